// Command-line helpers shared by the bench (run.ts) and the load script (load.ts).

/** A bad option: the scripts print it with their usage and exit 2. */
export class UsageError extends Error {}

/** `--name`'s integer value in min..max, or `def` when the option is absent. */
export function intOption(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, not ${JSON.stringify(v)}`);
  return n;
}
