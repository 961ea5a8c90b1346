// The bench's runs after the relay's measured phases, each under a wrangler dev of its own: a
// second, fresh relay for the memory of idle connections, two more for the cost of statistics
// (STATS=off and on: stats-cost.ts), the baselines and floors at the relay's loads (compare.ts),
// and the microbenchmarks in Node and in workerd.
import type { SMPClient } from "../src/client/client.js";
import { startRelay } from "../test/helpers/relay.js";
import type { BaselineKind } from "./baselines.js";
import { runBaseline, THROUGHPUT_RATIO_QUEUES, type BaselineResult } from "./compare.js";
import { BENCH_RELAY_VARS, openConnection, relayKeyHash } from "./connections.js";
import { start, stop } from "./lifecycle.js";
import { MAX_ATTEMPTS } from "./measure.js";
import { idleMemory, waitIdle, type IdleMemory } from "./memory.js";
import { levelTotal } from "./message-phases.js";
import { runMicro, type MicroResult } from "./micro.js";
import { findRelayProcesses } from "./proc.js";
import { reloadCount, waitSettled } from "./reload.js";
import type { Options } from "./run-options.js";
import { STATS_SETTINGS, statsRun, type StatsRun } from "./stats-cost.js";
import { runWorkerdMicro, startOpsWorker } from "./workerd-micro.js";

/**
 * Memory of idle connections, on a relay of its own: a fresh workerd, as baseline A's is when it
 * is measured the same way (opening hundreds of connections leaves workerd bigger and slower for
 * what follows, so not on the relay measured before). N handshaken connections, left alone long
 * enough for their Session objects to be evicted, then closed.
 */
export async function relayIdleMemory(o: Options): Promise<IdleMemory | null> {
  let relayMemory: IdleMemory | null = null;
  if (o.idleConns > 0) {
    process.stderr.write("a second relay for the memory of idle connections (wrangler dev)...\n");
    const m = await start(() => startRelay({ vars: BENCH_RELAY_VARS }));
    try {
      // Its own storage, so its own identity.
      const mKeyHash = await relayKeyHash(m);
      const open = (): Promise<SMPClient> => openConnection(m, mKeyHash);
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && relayMemory === null; attempt++) {
        await waitSettled(m, "/health");
        for (let i = 0; i < 20; i++) (await open()).close();
        await waitIdle(findRelayProcesses(m).relay, 5000);
        const reloads = reloadCount(m);
        process.stderr.write(`  ${o.idleConns} idle connections, ${o.idleWaitMs / 1000} s...`);
        relayMemory = await idleMemory(findRelayProcesses(m), o.idleConns, o.idleWaitMs, () => open());
        process.stderr.write(" done\n");
        if (reloadCount(m) !== reloads) relayMemory = null;
      }
    } finally {
      await stop(m);
    }
  }
  return relayMemory;
}

/**
 * What statistics cost (issue 14): the same connections (stats-cost.ts) on a fresh relay with
 * STATS=off, then on one with STATS=public, each measured again after a reload (up to MAX_ATTEMPTS).
 */
export async function relayStatsCost(o: Options): Promise<StatsRun[]> {
  const runs: StatsRun[] = [];
  if (o.statsConns <= 0) return runs;
  for (const stats of STATS_SETTINGS) {
    process.stderr.write(`a relay with STATS=${stats} for the cost of statistics (wrangler dev)...\n`);
    const s = await start(() => startRelay({ vars: { ...BENCH_RELAY_VARS, STATS: stats } }));
    try {
      const keyHash = await relayKeyHash(s);
      const open = (): Promise<SMPClient> => openConnection(s, keyHash);
      for (let attempt = 1; ; attempt++) {
        await waitSettled(s, "/health");
        const reloads = reloadCount(s);
        let why: string;
        try {
          const run = await statsRun(stats, `${s.httpUrl}/debug/metrics`, open, o.statsConns, o.statsMsgs, o.msgBytes, (l) => process.stderr.write(l));
          if (reloadCount(s) === reloads) {
            runs.push(run);
            break;
          }
          why = "wrangler reloaded the Worker";
        } catch (e) {
          if (reloadCount(s) === reloads) throw e;
          why = `a reload interrupted it (${(e as Error).message})`;
        }
        if (attempt >= MAX_ATTEMPTS) throw new Error(`stats cost: ${why}; gave up after ${attempt} attempts`);
        process.stderr.write(`\n  ${why}: measuring again\n`);
      }
    } finally {
      await stop(s);
    }
  }
  return runs;
}

/** The baselines (and the floors, unless --skip-floors), one after the other, at the relay's loads. */
export async function runBaselines(o: Options): Promise<BaselineResult[]> {
  const baselines: BaselineResult[] = [];
  if (!o.skipBaselines && o.throughputTotal > 0) {
    const kinds: BaselineKind[] = o.skipFloors ? ["forward", "topology"] : ["forward", "topology", "storage", "floor"];
    // Floor F on @noble, and F + authorization, only where their ratios are read: 1 queue and the throughput ratio's.
    if (!o.skipFloors) kinds.push("floorNoble", "floorAuth");
    for (const kind of kinds) {
      const queues = kind === "floorNoble" || kind === "floorAuth" ? o.throughputQueues.filter((q) => q === 1 || q === THROUGHPUT_RATIO_QUEUES) : o.throughputQueues;
      baselines.push(
        await runBaseline(kind, {
          levels: queues.map((q) => ({ queues: q, total: levelTotal(o, q) })),
          phaseTimeoutMs: o.phaseTimeoutMs,
          idleConns: o.idleConns,
          idleWaitMs: o.idleWaitMs,
          start,
          stop,
          progress: (line) => process.stderr.write(line),
        }),
      );
    }
  }
  return baselines;
}

/** The microbenchmarks in Node (in-process), then the same operations in workerd (µs by name). */
export async function runMicrobenchmarks(o: Options): Promise<{ micro: MicroResult[]; inWorkerd: Map<string, number | null> }> {
  let micro: MicroResult[] = [];
  let inWorkerd = new Map<string, number | null>();
  if (o.microMs > 0) {
    process.stderr.write("microbenchmarks in Node (in-process):\n");
    micro = await runMicro(o.microMs, (name) => process.stderr.write(`  ${name}\n`));
    process.stderr.write("the same in workerd (bench/workerd/worker.ts under wrangler dev):\n");
    const w = await start(() => startOpsWorker());
    try {
      const deadline = performance.now() + o.phaseTimeoutMs;
      inWorkerd = await runWorkerdMicro(w, micro, o.microMs, deadline, (name) => process.stderr.write(`  ${name}\n`));
    } finally {
      await stop(w);
    }
  }
  return { micro, inWorkerd };
}
