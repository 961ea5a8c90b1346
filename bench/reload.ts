// wrangler dev rebuilds and reloads the Worker whenever a source file changes: a measurement that
// spans a reload is void (the rebuild costs CPU, connections drop, the isolate starts cold). The
// bench counts reloads in wrangler's output around each measurement and redoes the ones that saw one.
import type { RunningRelay } from "../test/helpers/relay.js";

const RELOADING = "Reloading local server";
const READY = "Local server updated and ready";

const count = (s: string, what: string): number => s.split(what).length - 1;

export function reloadCount(r: RunningRelay): number {
  return count(r.log(), RELOADING);
}

/**
 * Waits until every reload has finished, none has started for `quietMs`, and `path` answers.
 * Throws after `timeoutMs` (a rebuild that fails never gets ready).
 */
export async function waitSettled(r: RunningRelay, path: string, quietMs = 2000, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let seen = reloadCount(r);
  let quietSince = performance.now();
  for (;;) {
    const log = r.log();
    const reloads = count(log, RELOADING);
    if (reloads !== seen) {
      seen = reloads;
      quietSince = performance.now();
    }
    if (count(log, READY) >= reloads && performance.now() - quietSince >= quietMs) {
      try {
        const res = await fetch(`${r.httpUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
        if (res.ok) return;
      } catch {
        // not back yet
      }
    }
    if (performance.now() > deadline) throw new Error(`wrangler dev did not settle after a reload within ${timeoutMs / 1000} s`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
