// The wrangler dev instances the bench starts (the relay, a second relay, the baselines, the bench
// Worker): stopped on every way out (normal end, error, SIGINT/SIGTERM, watchdog).
import { rmSync } from "node:fs";
import type { RunningRelay } from "../test/helpers/relay.js";
import { childPids } from "./proc.js";

const running = new Set<RunningRelay>();
/** The last one started, for its log when something fails. */
let lastStarted: RunningRelay | null = null;

export async function start(what: () => Promise<RunningRelay>): Promise<RunningRelay> {
  const r = await what();
  running.add(r);
  lastStarted = r;
  return r;
}

export async function stop(r: RunningRelay): Promise<void> {
  try {
    await r.stop();
    // The storage directory is ours (a fresh temporary one): hundreds of SQLite files by now.
    rmSync(r.persistTo, { recursive: true, force: true });
  } finally {
    running.delete(r);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map(stop));
}

/** The last instance started, if any: its log goes with a failure. */
export const lastStartedInstance = (): RunningRelay | null => lastStarted;

/**
 * Our own child processes (only wrangler dev instances), so a signal that arrives while one is
 * still starting can stop it too. It runs detached: its pid is its process group.
 */
function killOwnChildren(signal: NodeJS.Signals): void {
  for (const pid of childPids(process.pid)) {
    try {
      process.kill(-pid, signal);
    } catch {
      // not a group leader, or gone
    }
  }
}

/** Set once a signal or the watchdog ends the run: the errors that stopping causes are expected. */
let bailing = false;

export const isBailing = (): boolean => bailing;

export async function bail(code: number, why: string): Promise<never> {
  if (bailing) return new Promise<never>(() => setTimeout(() => process.exit(code), 30_000));
  bailing = true;
  console.error(`\n${why}: stopping wrangler dev`);
  const hard = setTimeout(() => {
    killOwnChildren("SIGKILL");
    process.exit(code);
  }, 8000);
  await stopAll();
  killOwnChildren("SIGTERM");
  clearTimeout(hard);
  process.exit(code);
}

/** SIGINT and SIGTERM stop what we started; at exit, whatever is left is killed. */
export function stopOnExit(): void {
  process.once("SIGINT", () => void bail(130, "interrupted"));
  process.once("SIGTERM", () => void bail(143, "terminated"));
  process.on("exit", () => {
    // Last resort, synchronous: never leave a wrangler/workerd behind.
    for (const r of running) {
      if (!r.process.pid || r.process.exitCode !== null) continue;
      try {
        process.kill(-r.process.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });
}
