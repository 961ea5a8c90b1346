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

/**
 * The parsed options, or the exit code when there is nothing to run: usage and 2 for a bad
 * option, the help and 0 for --help (`parse` returns null).
 */
export function cliOptions<T>(argv: string[], help: string, parse: (argv: string[]) => T | null): T | number {
  let opts: T | null;
  try {
    opts = parse(argv);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${help}`);
    return 2;
  }
  if (opts === null) {
    console.log(help);
    return 0;
  }
  return opts;
}
