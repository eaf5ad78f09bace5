import { sluiceError, type SluiceError } from "../errors.js";
import { nearestName } from "../nearest-name.js";
import { checkRouteLimits, limitOptionNames, type RouteLimitsInput } from "./limit-options.js";

/** The config's `limits`: route name ("*", "pkg.Svc" or "pkg.Svc/Method") → its limits. */
export type LimitsConfig = Readonly<Record<string, RouteLimitsInput>>;

/** "*", a service's full name, or a service and one of its methods. */
const routeName = /^(\*|[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(\/[A-Za-z_]\w*)?)$/;

/**
 * Checks the config's `limits` key: every route name well formed, every
 * option known and in range. Errors name the key as it is written, e.g.
 * `limits["greet.v1.GreetService"].maxConcurrent`.
 */
export function validateLimits(raw: unknown, source: string): { limits: LimitsConfig } | { errors: SluiceError[] } {
  if (raw === undefined) return { limits: {} };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { errors: [sluiceError("SLUICE_CONFIG_INVALID", { key: "limits", value: raw, allowed: `an object from route names ("*", "pkg.Service", "pkg.Service/Method") to limits`, source })] };
  }
  const errors: SluiceError[] = [];
  for (const [name, value] of Object.entries(raw)) {
    const at = `limits[${JSON.stringify(name)}]`;
    if (!routeName.test(name)) {
      errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: at, value, allowed: `a route name: "*" (every route), a service's full name ("greet.v1.GreetService") or a method ("greet.v1.GreetService/Greet")`, source }));
      continue;
    }
    for (const p of checkRouteLimits(value, at)) {
      if (p.unknown) {
        const last = p.key.slice(p.key.lastIndexOf(".") + 1);
        const parent = p.key.includes(".rate.") ? ["perSecond", "burst", "key", "maxKeys"] : limitOptionNames;
        const prefix = p.key.slice(0, p.key.length - last.length);
        errors.push(sluiceError("SLUICE_CONFIG_UNKNOWN_KEY", { key: p.key, source, known: parent.map((k) => prefix + k) }));
      } else {
        errors.push(sluiceError("SLUICE_CONFIG_INVALID", { key: p.key, value: p.value, allowed: p.allowed, source }));
      }
    }
  }
  return errors.length > 0 ? { errors } : { limits: raw as LimitsConfig };
}

/**
 * The `limits` names that match no served route (a typo, or a function
 * that is gone), each with the nearest route name when one is close.
 */
export function unmatchedLimitNames(limits: LimitsConfig, routes: readonly string[]): { name: string; near: string | undefined }[] {
  const services = new Set(routes.map((r) => r.slice(0, r.indexOf("/"))));
  const known = [...services, ...routes];
  const out: { name: string; near: string | undefined }[] = [];
  for (const name of Object.keys(limits)) {
    if (name === "*" || services.has(name) || routes.includes(name)) continue;
    out.push({ name, near: nearestName(name, known) });
  }
  return out;
}
