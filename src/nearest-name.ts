/**
 * "Did you mean …?" for a name that is not known: the closest known name by
 * edit distance, when it is close enough to be a typo. Used for commands,
 * flags, config keys, function options and response fields, so that a typo
 * gets one suggestion instead of the whole list.
 */
export function nearestName(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const w = word.toLowerCase();
  const candidates = [...known];
  for (const candidate of candidates) {
    const d = editDistance(w, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // One slip ("prot" for "port") beats a longer name that merely starts the same.
  if (best !== undefined && bestDistance <= 1) return best;
  // A name cut short ("prot" for "protocol") is a typo too, however many letters are missing.
  const extended = candidates.filter((c) => w.length >= 3 && c.toLowerCase().startsWith(w));
  if (extended.length === 1) return extended[0];
  // Up to a third of the word may differ (at least 2 edits): "titel" → "title", "prot" → "port".
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(w.length / 3)) ? best : undefined;
}

/** `; did you mean "x"?`, or "" when nothing is close. */
export function didYouMean(word: string, known: Iterable<string>, quote = "\""): string {
  const best = nearestName(word, known);
  return best === undefined ? "" : `; did you mean ${quote}${best}${quote}?`;
}

/** Levenshtein distance, with a transposition counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]![j] = j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
