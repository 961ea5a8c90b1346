// The measurement loop of the bench: a phase's loop between two readings of the relay's processes
// (CPU from /proc), its counters (GET /debug/metrics) and its storage directory, an idle window
// after it, and the plan of phases run again when a reload of the Worker voids one.
import { readdirSync } from "node:fs";
import type { SMPClient } from "../src/client/client.js";
import type { RunningRelay } from "../test/helpers/relay.js";
import { counterDelta, countersReset, settledCounters, type Counters } from "./counters.js";
import type { LoopResult, TimedWebSocket } from "./messages.js";
import { delta, snapshot, type Delta, type RelayProcesses } from "./proc.js";
import { reloadCount } from "./reload.js";
import type { Options } from "./run-options.js";

/** Files under a directory, recursively (the relay's storage: a few hundred). */
function countFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** CPU from /proc/PID/stat is counted in 10 ms ticks. */
export const TICK_MS = 10;
/** Wait after each measured loop so the relay finishes its last frames inside the window. */
export const SETTLE_MS = 250;

export interface Phase {
  name: string;
  requested: number;
  completed: number;
  /** Wall time of the loop itself (no settle), for throughput. */
  loopMs: number;
  cpu: Delta;
  /** The same processes over an idle window right after, as long as the phase (1..10 s). */
  idle: Delta;
  /** Latency samples, ms. */
  samples: number[];
  /** Messages: the same latency from socket to socket, the clients' own work left out (see messages.ts pushWire). */
  wireSamples: number[];
  sampleLabel: string;
  /** Files the relay's storage directory gained during the phase. */
  storageFiles: number;
  note: string | null;
  /** The relay's counters before the loop and after the settle (phases that ask for them). */
  counters: { before: Counters; after: Counters } | null;
}

export interface Ctx {
  /** Found again before each phase (a reload starts a new workerd). */
  procs: RelayProcesses;
  findProcs: () => RelayProcesses;
  persistTo: string;
  healthUrl: string;
  /** GET /debug/metrics (the relay runs with RELAY_DEBUG_METRICS=true). */
  metricsUrl: string;
  open: () => Promise<SMPClient>;
  /** The timed socket under each connection ctx.open() made (for wire-to-wire latency). */
  socketOf: WeakMap<SMPClient, TimedWebSocket>;
  opts: Options;
}

/**
 * The options of a phase that reads the relay's counters around its loop (messages, reconnects):
 * a shorter idle window than the CPU phases (workerd is idle at 0–5 ms/s, and six of these would
 * add a minute).
 */
export const COUNTED_PHASE = { counted: true, maxIdleMs: 2000 };

export type PhaseRun = (ctx: Ctx, conn: SMPClient) => Promise<Phase>;
export const MAX_ATTEMPTS = 3;

export async function measurePhase<R extends LoopResult>(
  ctx: Ctx,
  name: string,
  requested: number,
  sampleLabel: string,
  loop: (deadline: number, samples: number[], wireSamples: number[]) => Promise<R>,
  /** counted: read the relay's counters around the loop; maxIdleMs: cap on the idle window. */
  { counted = false, maxIdleMs = 10_000 }: { counted?: boolean; maxIdleMs?: number } = {},
): Promise<Phase & { result: R }> {
  process.stderr.write(`  ${name}...`);
  const samples: number[] = [];
  const wireSamples: number[] = [];
  const files0 = countFiles(ctx.persistTo);
  // Outside the CPU window: the request that reads the counters costs the relay CPU too. Settled,
  // so the flush of a connection closed just before (the reconnect's first) is not counted here.
  const countersBefore = counted ? await settledCounters(ctx.metricsUrl) : null;
  // Every reload starts a new workerd for the Worker, also one that came after the last
  // recovery (while warming up): look for it again, and check it is the same one at the end.
  ctx.procs = findProcsOrVoid(ctx, name);
  const before = snapshot(ctx.procs);
  const t0 = performance.now();
  const result = await loop(t0 + ctx.opts.phaseTimeoutMs, samples, wireSamples);
  const { completed, note } = result;
  const loopMs = performance.now() - t0;
  await sleep(SETTLE_MS);
  const after = snapshot(ctx.procs);
  // Once they stop changing: what the relay does after the last reply (a closed connection's
  // statistics flush) belongs to the phase. Still outside the CPU window.
  const countersAfter = countersBefore ? await settledCounters(ctx.metricsUrl) : null;
  const cpu = delta(before, after);
  const storageFiles = countFiles(ctx.persistTo) - files0;
  const idleMs = Math.min(maxIdleMs, Math.max(1000, cpu.wallMs));
  const i0 = snapshot(ctx.procs);
  await sleep(idleMs);
  const idle = delta(i0, snapshot(ctx.procs));
  if (findProcsOrVoid(ctx, name).relay !== ctx.procs.relay) throw new VoidMeasurementError(`${name}: the Worker's workerd process changed (a reload)`);
  process.stderr.write(` ${completed} in ${(loopMs / 1000).toFixed(1)} s\n`);
  const truncated = completed < requested ? `time limit reached after ${completed} of ${requested}` : null;
  const counters = countersBefore && countersAfter ? { before: countersBefore, after: countersAfter } : null;
  if (counters && countersReset(counterDelta(counters.before, counters.after))) {
    throw new VoidMeasurementError(`${name}: the relay's counters went backwards (a new isolate: reload or restart)`);
  }
  return {
    name,
    requested,
    completed,
    loopMs,
    cpu,
    idle,
    samples,
    wireSamples,
    sampleLabel,
    storageFiles,
    note: [truncated, note].filter(Boolean).join("; ") || null,
    counters,
    result,
  };
}

/** The relay was replaced during a phase (new process, new isolate): measure it again, like a reload. */
export class VoidMeasurementError extends Error {}

function findProcsOrVoid(ctx: Ctx, name: string): RelayProcesses {
  try {
    return ctx.findProcs();
  } catch (e) {
    // Two Worker processes: one is starting or stopping, a reload is under way.
    throw new VoidMeasurementError(`${name}: ${(e as Error).message}`);
  }
}

/**
 * Runs the plan's phases one after another on the warm connection `conn`. A phase that a reload
 * of the Worker interrupted or voided is measured again (up to MAX_ATTEMPTS), on the connection
 * `recover` gives after the reload has settled.
 */
export async function runPlan(ctx: Ctx, r: RunningRelay, plan: PhaseRun[], first: SMPClient, recover: () => Promise<SMPClient>): Promise<Phase[]> {
  const phases: Phase[] = [];
  let conn = first;
  try {
    for (const run of plan) {
      for (let attempt = 1; ; attempt++) {
        const reloads = reloadCount(r);
        let why: string;
        try {
          const p = await run(ctx, conn);
          if (reloadCount(r) === reloads) {
            if (attempt > 1) p.note = [p.note, `measured on attempt ${attempt}`].filter(Boolean).join("; ");
            phases.push(p);
            break;
          }
          why = "wrangler reloaded the Worker during the measurement (a source file changed)";
        } catch (e) {
          if (e instanceof VoidMeasurementError) why = e.message;
          else if (reloadCount(r) === reloads) throw e;
          else why = `a reload of the Worker interrupted the measurement (${(e as Error).message})`;
        }
        if (attempt >= MAX_ATTEMPTS) throw new Error(`${why}; gave up after ${attempt} attempts`);
        process.stderr.write(`\n  ${why}: waiting for it to settle, then measuring again\n`);
        conn.close();
        conn = await recover();
      }
    }
  } finally {
    conn.close();
  }
  return phases;
}

// ---------------------------------------------------------------------------------------------
// A phase's CPU per operation

export interface PerOp {
  relay: number;
  relayNet: number;
  relayUserShare: number;
  proxy: number;
  proxyNet: number;
  client: number;
  /** One CPU tick spread over the ops: the resolution of the per-op figures. */
  resolution: number;
  idleRelayPerS: number;
  idleProxyPerS: number;
}

export function perOp(p: Phase): PerOp {
  const n = Math.max(1, p.completed);
  const idleRelayPerS = (p.idle.relayMs / p.idle.wallMs) * 1000;
  const idleProxyPerS = (p.idle.proxyMs / p.idle.wallMs) * 1000;
  return {
    relay: p.cpu.relayMs / n,
    relayNet: (p.cpu.relayMs - (idleRelayPerS * p.cpu.wallMs) / 1000) / n,
    relayUserShare: p.cpu.relayMs > 0 ? p.cpu.relayUserMs / p.cpu.relayMs : NaN,
    proxy: p.cpu.proxyMs / n,
    proxyNet: (p.cpu.proxyMs - (idleProxyPerS * p.cpu.wallMs) / 1000) / n,
    client: p.cpu.clientMs / n,
    resolution: TICK_MS / n,
    idleRelayPerS,
    idleProxyPerS,
  };
}
