// The operations of ops.ts measured inside workerd: bench/workerd/worker.ts runs one of them N
// times per request, and the cost is the workerd process CPU delta (from /proc) of that request,
// less that of an empty request, over N. Counts are sized from the Node figures so that each
// run takes about the time budget; CPU ticks are 10 ms.
import type { RunningRelay } from "../test/helpers/relay.js";
import type { MicroResult } from "./micro.js";
import { cpuOf, findRelayProcesses } from "./proc.js";
import { reloadCount, waitSettled } from "./reload.js";
import { startBenchWorker } from "./wrangler.js";

const MAX_N = 1_000_000;
const TICK_MS = 10;

/** The bench Worker (bench/workerd/wrangler.toml) under its own wrangler dev. */
export function startOpsWorker(): Promise<RunningRelay> {
  return startBenchWorker({ config: "bench/workerd/wrangler.toml", readyPath: "/ops", label: "bench worker" });
}

async function get(url: string, timeoutMs: number): Promise<unknown> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

/** µs of workerd CPU per op, by op name (null when a run was too short to tell). */
export async function runWorkerdMicro(
  worker: RunningRelay,
  node: MicroResult[],
  budgetMs: number,
  deadline: number,
  progress: (name: string) => void = () => {},
): Promise<Map<string, number | null>> {
  let pid = findRelayProcesses(worker).relay;
  const cpu = (): number => {
    const c = cpuOf(pid);
    return c.user + c.sys;
  };
  const names = (await get(`${worker.httpUrl}/ops`, 30_000)) as string[];
  const run = async (i: number, n: number): Promise<number> => {
    const before = cpu();
    await get(`${worker.httpUrl}/run?op=${i}&n=${n}`, 60_000);
    return cpu() - before;
  };

  // An empty request, for the per-request overhead.
  const emptyRequest = async (): Promise<number> => {
    for (let k = 0; k < 20; k++) await run(0, 0);
    let sum = 0;
    const EMPTY_RUNS = 50;
    for (let k = 0; k < EMPTY_RUNS; k++) sum += await run(0, 0);
    return sum / EMPTY_RUNS;
  };
  let empty = await emptyRequest();

  /** After a reload: wait for the new workerd, then measure the empty request again. */
  const settle = async (): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      await waitSettled(worker, "/ops");
      pid = findRelayProcesses(worker).relay;
      try {
        return await emptyRequest();
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  };

  const out = new Map<string, number | null>();
  for (const [i, name] of names.entries()) {
    if (performance.now() > deadline) break;
    const ref = node.find((m) => m.name === name);
    if (!ref) continue;
    progress(name);
    // A reload of the Worker (a source file changed) voids the figure: settle, and measure again.
    for (let attempt = 1; ; attempt++) {
      const reloads = reloadCount(worker);
      try {
        const us = await measureOp(i, ref.depth === 0 ? budgetMs : budgetMs / 3, ref.cpuUs);
        if (reloadCount(worker) === reloads) {
          out.set(name, us);
          break;
        }
      } catch (e) {
        if (reloadCount(worker) === reloads) throw e;
      }
      if (attempt >= 3) throw new Error(`bench Worker kept reloading while measuring ${name}`);
      progress(`(reloaded: measuring ${name} again)`);
      empty = await settle();
    }
  }
  return out;

  async function measureOp(i: number, ms: number, nodeCpuUs: number): Promise<number | null> {
    let n = Math.max(20, Math.min(MAX_N, Math.round((ms * 1000) / Math.max(nodeCpuUs, 0.05))));
    await run(i, Math.max(5, Math.round(n / 4))); // warm-up
    let used = (await run(i, n)) - empty;
    // workerd can be much faster than Node at some steps: scale the count up to fill the budget.
    for (let tries = 0; tries < 2 && used < ms / 2 && n < MAX_N && performance.now() < deadline; tries++) {
      n = Math.min(MAX_N, n * Math.min(50, Math.ceil(ms / Math.max(used, TICK_MS))));
      used = (await run(i, n)) - empty;
    }
    // Below 5 ticks the figure is mostly rounding.
    return used >= 5 * TICK_MS ? (used * 1000) / n : null;
  }
}
