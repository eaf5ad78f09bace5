import { sluiceError, type SluiceError } from "../errors.js";

/** What the conflict check needs to know of a function. */
export interface ServiceClaim {
  displayPath: string;
  split: boolean;
  service: { typeName: string };
  methods: { name: string }[];
}

/**
 * Finds the conflicts between function files: a method implemented twice,
 * or a service spread over several files without every one of them saying
 * `split: true`. `reserved` names services the gateway serves itself
 * ("built-in") or sends to an upstream ("proxy").
 * Returns the errors and the files involved in them.
 */
export function checkConflicts(
  claims: ServiceClaim[],
  reserved: ReadonlyMap<string, "built-in" | "proxy">,
): { errors: SluiceError[]; files: Set<string> } {
  const errors: SluiceError[] = [];
  const files = new Set<string>();
  const byService = new Map<string, ServiceClaim[]>();
  for (const c of claims) {
    const by = reserved.get(c.service.typeName);
    if (by !== undefined) {
      errors.push(by === "proxy"
        ? sluiceError("SLUICE_PROXY_CONFLICT", { service: c.service.typeName, file: c.displayPath })
        : sluiceError("SLUICE_FUNCTION_DUPLICATE_METHOD", { method: c.service.typeName, files: ["Sluice's built-in service", c.displayPath] }));
      files.add(c.displayPath);
      continue;
    }
    const list = byService.get(c.service.typeName) ?? [];
    list.push(c);
    byService.set(c.service.typeName, list);
  }
  for (const [typeName, list] of byService) {
    if (list.length < 2) continue;
    if (list.some((c) => !c.split)) {
      errors.push(sluiceError("SLUICE_FUNCTION_SPLIT_NOT_DECLARED", { service: typeName, files: list.map((c) => c.displayPath) }));
      list.forEach((c) => files.add(c.displayPath));
      continue;
    }
    const owner = new Map<string, string>();
    for (const c of list) {
      for (const m of c.methods) {
        const first = owner.get(m.name);
        if (first !== undefined) {
          errors.push(sluiceError("SLUICE_FUNCTION_DUPLICATE_METHOD", { method: `${typeName}.${m.name}`, files: [first, c.displayPath] }));
          files.add(first);
          files.add(c.displayPath);
        } else {
          owner.set(m.name, c.displayPath);
        }
      }
    }
  }
  return { errors, files };
}
