// `npm run bench`: the relay's CPU time per handshake and per PING round trip, measured on a
// `wrangler dev` relay (workerd process CPU from /proc); what a delivered message costs in
// Durable Object requests and SQLite rows (the relay's debug counters), the bytes it stores and
// its SEND → MSG latency and throughput under load; the memory of idle connections; the same
// load on two baselines in the same run (bench/baselines/: the simplest forwarding relay, and
// our topology without crypto or storage), as ratios against targets and an SVG chart; plus
// in-process microbenchmarks of the server-side crypto. See bench/README.md for what each
// figure means, docs/PERFORMANCE.md for the latest figures.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connect, type SMPClient } from "../src/client/client.js";
import { useNodeCrypto } from "../src/client/nodeCrypto.js";
import type { WebSocketConstructor } from "../src/client/socket.js";
import { parseAddress } from "../src/protocol/address.js";
import { startRelay, type RunningRelay } from "../test/helpers/relay.js";
import { fmt, percentile, table } from "./format.js";
import type { BaselineKind } from "./baselines.js";
import { renderChart } from "./chart.js";
import { chartSeries, reportComparison, runBaseline, type BaselineResult, type LoadPoint } from "./compare.js";
import { idleMemory, waitIdle, type IdleMemory } from "./memory.js";
import { measureLinkCosts, reportLinkCosts } from "./links.js";
import { storageSize, type StorageSize } from "./storage.js";
import {
  backlog,
  billed,
  counterDelta,
  countersReset,
  fetchCounters,
  makeQueues,
  MIN_BODY,
  pairOf,
  perMessage,
  steadyStream,
  throughput,
  warmQueue,
  warmUnsubscribedQueue,
  type Costs,
  type Counters,
  type LoopResult,
  type Pair,
  TimedWebSocket,
} from "./messages.js";
import { runMicro, type MicroResult } from "./micro.js";
import { BLOCK_OP, HANDSHAKE_OP } from "./ops.js";
import { reloadCount, waitSettled } from "./reload.js";
import { startOpsWorker, runWorkerdMicro } from "./workerd-micro.js";
import { childPids, delta, findRelayProcesses, snapshot, type Delta, type RelayProcesses } from "./proc.js";
import { cliOptions, intOption } from "./options.js";

const HELP = `usage: npm run bench -- [options]

  --handshakes N     sequential connect()+close() to measure (default 200)
  --pings M          sequential PINGs on one connection (default 2000)
  --batch-size B     PINGs sent together, packed in one block (default 100)
  --batch-rounds R   the batched run sends M PINGs R times (default 10)
  --messages N       steady stream: messages SENT and ACKed one at a time on one queue (default 300; 0 skips)
  --backlog K        backlog: messages SENT before SUB, then drained (default 100, at most 128, the queue quota; 0 skips)
  --throughput T     throughput / load: T messages (at least 10 per queue; 3 T at 1 queue, where the ratios
                     are taken) at each queue count (default 400; 0 skips)
  --queues LIST      queues in flight for the throughput runs, relay and baselines (default 1,2,5,10,25,50,100)
  --msg-bytes S      SEND body size, 16..16048 (default 16048: one message per 16 KB block; the relay pads every
                     stored message to 16106 bytes anyway)
  --skip-baselines   do not run the baselines (bench/baselines/): no ratios, no chart
  --skip-floors      run baselines A and B only, not the floors S and F (B plus durable messages, plus crypto)
  --idle-conns N     idle connections for the memory figure, relay and baseline A (default 200; 0 skips)
  --idle-wait S      how long they stay idle before the second reading, seconds (default 12: workerd evicts
                     an object about 10 s after its last event)
  --chart FILE       the SVG chart (default bench-output/bench-latency.svg; with --json, one more next to it)
  --micro-ms MS      time budget per microbenchmark figure (default 1500; 0 skips them)
  --phase-timeout S  time limit of each measured loop, seconds (default 60)
  --timeout S        time limit of the whole run, seconds (default 480)
  --json FILE        also write the figures as JSON
  --help`;

interface Options {
  handshakes: number;
  pings: number;
  batchSize: number;
  batchRounds: number;
  messages: number;
  backlog: number;
  throughputTotal: number;
  throughputQueues: number[];
  msgBytes: number;
  skipBaselines: boolean;
  skipFloors: boolean;
  idleConns: number;
  idleWaitMs: number;
  chart: string;
  microMs: number;
  phaseTimeoutMs: number;
  timeoutMs: number;
  json: string | null;
}


function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      handshakes: { type: "string" },
      pings: { type: "string" },
      "batch-size": { type: "string" },
      "batch-rounds": { type: "string" },
      messages: { type: "string" },
      backlog: { type: "string" },
      throughput: { type: "string" },
      queues: { type: "string" },
      "msg-bytes": { type: "string" },
      "skip-baselines": { type: "boolean" },
      "skip-floors": { type: "boolean" },
      "idle-conns": { type: "string" },
      "idle-wait": { type: "string" },
      chart: { type: "string" },
      "micro-ms": { type: "string" },
      "phase-timeout": { type: "string" },
      timeout: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = intOption;
  const batchSize = int("batch-size", values["batch-size"], 100, 1, 200);
  const queues = (values.queues ?? "1,2,5,10,25,50,100").split(",").map((v) => int("queues", v.trim(), 0, 1, 1000));
  const throughputTotal = int("throughput", values.throughput, 400, 0, 1_000_000);
  return {
    handshakes: int("handshakes", values.handshakes, 200, 1, 100_000),
    pings: int("pings", values.pings, 2000, 1, 10_000_000),
    batchSize,
    batchRounds: int("batch-rounds", values["batch-rounds"], 10, 1, 10_000),
    messages: int("messages", values.messages, 300, 0, 1_000_000),
    // The relay's queue quota is 128 (wrangler.jsonc): one more SEND would be ERR QUOTA.
    backlog: int("backlog", values.backlog, 100, 0, 128),
    throughputTotal,
    throughputQueues: [...new Set(queues)].sort((a, b) => a - b),
    msgBytes: int("msg-bytes", values["msg-bytes"], 16048, MIN_BODY, 16048),
    skipBaselines: values["skip-baselines"] ?? false,
    skipFloors: values["skip-floors"] ?? false,
    idleConns: int("idle-conns", values["idle-conns"], 200, 0, 5000),
    idleWaitMs: int("idle-wait", values["idle-wait"], 12, 0, 600) * 1000,
    chart: values.chart ?? "bench-output/bench-latency.svg",
    microMs: int("micro-ms", values["micro-ms"], 1500, 0, 60_000),
    phaseTimeoutMs: int("phase-timeout", values["phase-timeout"], 60, 1, 3600) * 1000,
    timeoutMs: int("timeout", values.timeout, 480, 10, 24 * 3600) * 1000,
    json: values.json ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// The wrangler dev instances we start (the relay, then the bench Worker): stopped on every way
// out (normal end, error, SIGINT/SIGTERM, watchdog).

const running = new Set<RunningRelay>();
/** The last one started, for its log when something fails. */
let lastStarted: RunningRelay | null = null;

async function start(what: () => Promise<RunningRelay>): Promise<RunningRelay> {
  const r = await what();
  running.add(r);
  lastStarted = r;
  return r;
}

async function stop(r: RunningRelay): Promise<void> {
  try {
    await r.stop();
    // The storage directory is ours (a fresh temporary one): hundreds of SQLite files by now.
    rmSync(r.persistTo, { recursive: true, force: true });
  } finally {
    running.delete(r);
  }
}

async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map(stop));
}

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

async function bail(code: number, why: string): Promise<never> {
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

// ---------------------------------------------------------------------------------------------

/** Files under a directory, recursively (the relay's storage: a few hundred). */
function countFiles(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
  } catch {
    return 0;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** CPU from /proc/PID/stat is counted in 10 ms ticks. */
const TICK_MS = 10;
/** Wait after each measured loop so the relay finishes its last frames inside the window. */
const SETTLE_MS = 250;

interface Phase {
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

interface Ctx {
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

type PhaseRun = (ctx: Ctx, conn: SMPClient) => Promise<Phase>;
const MAX_ATTEMPTS = 3;

async function measurePhase<R extends LoopResult>(
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
  // Outside the CPU window: the request that reads the counters costs the relay CPU too.
  const countersBefore = counted ? await fetchCounters(ctx.metricsUrl) : null;
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
  const countersAfter = countersBefore ? await fetchCounters(ctx.metricsUrl) : null;
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
class VoidMeasurementError extends Error {}

function findProcsOrVoid(ctx: Ctx, name: string): RelayProcesses {
  try {
    return ctx.findProcs();
  } catch (e) {
    // Two Worker processes: one is starting or stopping, a reload is under way.
    throw new VoidMeasurementError(`${name}: ${(e as Error).message}`);
  }
}

async function handshakes(ctx: Ctx, _conn: SMPClient, n: number): Promise<Phase> {
  return measurePhase(ctx, "handshake (connect + close)", n, "connect()", async (deadline, samples) => {
    let i = 0;
    for (; i < n && performance.now() < deadline; i++) {
      const t = performance.now();
      const c = await ctx.open();
      samples.push(performance.now() - t);
      c.close();
    }
    return { completed: i };
  });
}

async function sequentialPings(ctx: Ctx, c: SMPClient, m: number): Promise<Phase> {
  return measurePhase(ctx, "PING, sequential", m, "round trip", async (deadline, samples) => {
    let i = 0;
    for (; i < m && performance.now() < deadline; i++) {
      const t = performance.now();
      await c.ping();
      samples.push(performance.now() - t);
    }
    return { completed: i };
  });
}

async function batchedPings(ctx: Ctx, c: SMPClient, total: number, batch: number): Promise<Phase> {
  return measurePhase(ctx, `PING, ${batch} per block`, total, `block of ${batch}`, async (deadline, samples) => {
    let done = 0;
    let unpacked = 0;
    while (done < total && performance.now() < deadline) {
      const k = Math.min(batch, total - done);
      const sent = c.stats.blocksSent;
      const t = performance.now();
      await Promise.all(Array.from({ length: k }, () => c.ping()));
      samples.push(performance.now() - t);
      if (c.stats.blocksSent - sent !== 1) unpacked++;
      done += k;
    }
    return { completed: done, note: unpacked > 0 ? `${unpacked} batches did not go out as one block` : undefined };
  });
}

/** For reference: what a plain HTTP request costs the same processes. */
const HTTP_REQUESTS = 500;

async function httpRequests(ctx: Ctx, n: number): Promise<Phase> {
  return measurePhase(ctx, "GET /health (reference)", n, "request", async (deadline, samples) => {
    let i = 0;
    for (; i < n && performance.now() < deadline; i++) {
      const t = performance.now();
      const res = await fetch(ctx.healthUrl, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`GET /health: HTTP ${res.status}`);
      samples.push(performance.now() - t);
    }
    return { completed: i };
  });
}

// ---------------------------------------------------------------------------------------------
// Messages: each scenario on connections of its own (a sender and a recipient), its queues
// created and warmed up before the measured window.

interface MsgPhase extends Phase {
  scenario: "steady" | "backlog" | "throughput";
  queues: number;
  /** Backlog: the counters after the SENDs, before SUB, and how many SENDs that was. */
  afterSends: Counters | null;
  sent: number;
  /** Backlog: the Queue objects' databases before the SENDs and right after them. */
  stored: { before: StorageSize; afterSends: StorageSize } | null;
}

/** Queue objects' databases only (the backlog's queue is the one that grows). */
const queueStorage = (ctx: Ctx): StorageSize => storageSize(ctx.persistTo, "QueueDO");

/** Messages per throughput run: --throughput, at least 10 per queue, and 3× at 1 queue (the ratios' level: steadier). */
const levelTotal = (o: Options, queues: number): number => (queues === 1 ? 3 : 1) * Math.max(o.throughputTotal, 10 * queues);

/**
 * The relay's counters around the loop; a shorter idle window than the CPU phases (workerd is
 * idle at 0–5 ms/s, and six of these would add a minute).
 */
const MESSAGE_PHASE = { counted: true, maxIdleMs: 2000 };

/** Messages through each queue before the window: its object awake, its expiry alarm set. */
const QUEUE_WARMUP = 3;

async function withPair<T>(ctx: Ctx, extra: number, f: (p: Pair, others: SMPClient[]) => Promise<T>): Promise<T> {
  const conns: SMPClient[] = [];
  try {
    for (let i = 0; i < 2 + extra; i++) conns.push(await ctx.open());
    const [sender, recipient, ...others] = conns as [SMPClient, SMPClient, ...SMPClient[]];
    const ss = ctx.socketOf.get(sender);
    const rs = ctx.socketOf.get(recipient);
    return await f(pairOf(sender, recipient, ss && rs ? { sender: ss, recipient: rs } : undefined), others);
  } finally {
    for (const c of conns) c.close();
  }
}

async function steadyPhase(ctx: Ctx, n: number): Promise<MsgPhase> {
  return withPair(ctx, 0, async (p) => {
    const [q] = await makeQueues(p, 1, true);
    await warmQueue(p, q!, QUEUE_WARMUP, ctx.opts.msgBytes);
    const ph = await measurePhase(
      ctx,
      "messages: steady stream, 1 queue",
      n,
      "SEND → MSG",
      (deadline, samples, wire) => steadyStream(p, q!, n, ctx.opts.msgBytes, deadline, samples, wire),
      MESSAGE_PHASE,
    );
    return { ...ph, scenario: "steady", queues: 1, afterSends: null, sent: ph.completed, stored: null };
  });
}

async function backlogPhase(ctx: Ctx, k: number): Promise<MsgPhase> {
  return withPair(ctx, 1, async (p, [reader]) => {
    const [q] = await makeQueues(p, 1, false);
    await warmUnsubscribedQueue(p, reader!, q!, QUEUE_WARMUP, ctx.opts.msgBytes);
    // The bytes the queue's database grows by while the SENDs wait: read from its files, the
    // first reading before the window, the second in it, right after the counters (bench/storage.ts).
    const before = queueStorage(ctx);
    let afterSends: StorageSize | null = null;
    const ph = await measurePhase(
      ctx,
      `messages: backlog of ${k}, 1 queue`,
      k,
      "-",
      (deadline) =>
        backlog(p, q!, k, ctx.opts.msgBytes, deadline, async () => {
          const c = await fetchCounters(ctx.metricsUrl);
          afterSends = queueStorage(ctx);
          return c;
        }),
      MESSAGE_PHASE,
    );
    const stored = afterSends ? { before, afterSends } : null;
    return { ...ph, scenario: "backlog", queues: 1, afterSends: ph.result.afterSends, sent: ph.result.sent, stored };
  });
}

async function throughputPhase(ctx: Ctx, total: number, nq: number): Promise<MsgPhase> {
  return withPair(ctx, 0, async (p) => {
    const queues = await makeQueues(p, nq, true);
    for (let i = 0; i < QUEUE_WARMUP; i++) {
      const w = await throughput(p, queues, nq, ctx.opts.msgBytes, performance.now() + 30_000, []);
      if (w.completed < nq) throw new Error("warm-up of the throughput queues timed out");
    }
    const ph = await measurePhase(
      ctx,
      `messages: throughput, ${nq} queue${nq === 1 ? "" : "s"}`,
      total,
      "SEND → MSG",
      (deadline, samples, wire) => throughput(p, queues, total, ctx.opts.msgBytes, deadline, samples, wire),
      MESSAGE_PHASE,
    );
    return { ...ph, scenario: "throughput", queues: nq, afterSends: null, sent: ph.completed, stored: null };
  });
}

const isMsgPhase = (p: Phase): p is MsgPhase => "scenario" in p;

// ---------------------------------------------------------------------------------------------
// Figures

interface PerOp {
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

function perOp(p: Phase): PerOp {
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

function versionOf(pkgJson: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(pkgJson, import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  } catch {
    return cpus()[0]?.model ?? "unknown";
  }
}

const r3 = (v: number): number | null => (Number.isFinite(v) ? Number(v.toFixed(4)) : null);

function phaseJson(p: Phase): Record<string, unknown> {
  return {
    name: p.name,
    requested: p.requested,
    completed: p.completed,
    loop_ms: r3(p.loopMs),
    window_ms: r3(p.cpu.wallMs),
    relay_cpu_ms: p.cpu.relayMs,
    relay_user_ms: p.cpu.relayUserMs,
    relay_sys_ms: p.cpu.relaySysMs,
    proxy_cpu_ms: p.cpu.proxyMs,
    others_cpu_ms: p.cpu.othersMs,
    client_cpu_ms: r3(p.cpu.clientMs),
    idle_ms: r3(p.idle.wallMs),
    idle_relay_cpu_ms: p.idle.relayMs,
    idle_proxy_cpu_ms: p.idle.proxyMs,
    storage_files_added: p.storageFiles,
    ...(p.counters ? { counters: counterDelta(p.counters.before, p.counters.after) } : {}),
    note: p.note,
  };
}

/** Cloudflare's free plan, per day (Durable Objects on SQLite storage). */
const FREE_PLAN = { doRequests: 100_000, rowsWritten: 100_000, rowsRead: 5_000_000 };

/** Delivered messages per day the free plan allows at these per-message costs, and which limit binds. */
function freePlanMessages(c: Costs): { perDay: number; boundBy: string } {
  const limits: [string, number][] = [
    ["DO requests", c.doRequests > 0 ? FREE_PLAN.doRequests / c.doRequests : Infinity],
    ["rows written", c.rowsWritten > 0 ? FREE_PLAN.rowsWritten / c.rowsWritten : Infinity],
    ["rows read", c.rowsRead > 0 ? FREE_PLAN.rowsRead / c.rowsRead : Infinity],
  ];
  const [boundBy, perDay] = limits.reduce((a, b) => (b[1] < a[1] ? b : a));
  return { perDay: Math.floor(perDay), boundBy };
}

/** Prints the messages section and returns its JSON keys. */
function reportMessages(msgPhases: MsgPhase[]): Record<string, unknown> {
  if (msgPhases.length === 0) return {};
  const delta = (p: MsgPhase): Counters => counterDelta(p.counters!.before, p.counters!.after);
  const costs = (p: MsgPhase): Costs => perMessage(billed(delta(p)), p.completed);
  const rate = (p: MsgPhase): number => (p.completed / p.loopMs) * 1000;
  const p50 = (p: MsgPhase): number => percentile(p.samples, 50);
  const p99 = (p: MsgPhase): number => percentile(p.samples, 99);

  console.log("\nMessages: cost per delivered message (the relay's counters, GET /debug/metrics) and SEND → MSG latency\n");
  console.log(
    table(
      ["", "msgs", "wall s", "msgs/s", "DO requests", "rows read", "rows written", "SEND→MSG p50 ms", "p99 ms", "wire p50", "relay CPU ms", "client CPU ms"],
      msgPhases.map((p) => {
        const c = costs(p);
        const o = perOp(p);
        return [
          p.name.replace(/^messages: /, ""),
          String(p.completed),
          fmt(p.loopMs / 1000, 1),
          fmt(rate(p), 0),
          fmt(c.doRequests, 3),
          fmt(c.rowsRead, 3),
          fmt(c.rowsWritten, 3),
          fmt(p50(p), 2),
          fmt(p99(p), 2),
          fmt(percentile(p.wireSamples, 50), 2),
          `${fmt(o.relayNet, 2)} ±${fmt(o.resolution, 2)}`,
          fmt(o.client, 2),
        ];
      }),
    ),
  );
  console.log("(per delivered message; DO requests = RPC calls + alarms + WebSocket messages in / 20; rows written include setAlarm;");
  console.log(" wire: SEND block out of the sender's socket → MSG frame into the recipient's, the clients' crypto left out;");
  console.log(" CPU: the relay's workerd net of idle, and this process, which is both the sender and the recipient)");

  console.log("\nWhere they go: counter deltas over each window (totals)\n");
  const rawRow = (label: string, d: Counters, n: number): string[] => [
    label,
    String(n),
    String(d.rpc.queueCall),
    String(d.rpc.sessionPush),
    String(d.rpc.queueCreate),
    String(d.rpc.identity),
    String(d.wsMessagesIn),
    String(d.alarms),
    String(d.rowsRead),
    String(d.rowsWritten),
    String(d.alarmWrites),
  ];
  const rows: string[][] = [];
  for (const p of msgPhases) {
    const name = p.name.replace(/^messages: /, "");
    rows.push(rawRow(name, delta(p), p.completed));
    if (p.afterSends) {
      rows.push(rawRow("  … SENDs (no subscriber)", counterDelta(p.counters!.before, p.afterSends), p.sent));
      rows.push(rawRow("  … SUB + drain with ACKs", counterDelta(p.afterSends, p.counters!.after), p.completed));
    }
  }
  console.log(
    table(["", "msgs", "Queue.call", "Session.push", "Queue.create", "Identity", "ws msgs in", "alarms", "rows read", "rows written", "setAlarm"], rows),
  );

  const steady = msgPhases.find((p) => p.scenario === "steady");
  const back = msgPhases.find((p) => p.scenario === "backlog");
  const tput = msgPhases.filter((p) => p.scenario === "throughput");
  const perDay: Record<string, unknown> = {};
  console.log(
    `\nFree plan (${FREE_PLAN.doRequests.toLocaleString("en")} DO requests, ${FREE_PLAN.rowsWritten.toLocaleString("en")} rows written, ` +
      `${FREE_PLAN.rowsRead.toLocaleString("en")} rows read a day): delivered messages a day, counting messages only (no connections, SUBs, PINGs)`,
  );
  for (const p of [steady, back, ...tput]) {
    if (!p) continue;
    const f = freePlanMessages(costs(p));
    perDay[p.scenario === "throughput" ? `throughput_${p.queues}` : p.scenario] = { msgs_per_day: f.perDay, bound_by: f.boundBy };
    console.log(`  ${p.name.replace(/^messages: /, "")}: ${f.perDay.toLocaleString("en")} (bound by ${f.boundBy})`);
  }
  for (const p of msgPhases) if (p.note) console.log(`note (${p.name}): ${p.note}`);

  const byQueues = (f: (p: MsgPhase) => number): Record<string, number | null> => Object.fromEntries(tput.map((p) => [String(p.queues), r3(f(p))]));
  const json: Record<string, unknown> = {};
  if (steady) {
    const c = costs(steady);
    Object.assign(json, {
      messages: steady.completed,
      do_requests_per_msg: r3(c.doRequests),
      rpc_calls_per_msg: r3(c.rpcCalls),
      rows_read_per_msg: r3(c.rowsRead),
      rows_written_per_msg: r3(c.rowsWritten),
      send_to_msg_p50_ms: r3(p50(steady)),
      send_to_msg_p99_ms: r3(p99(steady)),
      send_to_msg_wire_p50_ms: r3(percentile(steady.wireSamples, 50)),
      send_to_msg_wire_p99_ms: r3(percentile(steady.wireSamples, 99)),
      message_cpu_ms: r3(perOp(steady).relayNet),
      message_client_cpu_ms: r3(perOp(steady).client),
    });
  }
  if (back) {
    const c = costs(back);
    Object.assign(json, {
      backlog_messages: back.completed,
      backlog_do_requests_per_msg: r3(c.doRequests),
      backlog_rpc_calls_per_msg: r3(c.rpcCalls),
      backlog_rows_read_per_msg: r3(c.rowsRead),
      backlog_rows_written_per_msg: r3(c.rowsWritten),
      backlog_msgs_per_s: r3(rate(back)),
      backlog_cpu_ms: r3(perOp(back).relayNet),
    });
  }
  if (tput.length > 0) {
    Object.assign(json, {
      throughput_messages: Object.fromEntries(tput.map((p) => [String(p.queues), p.completed])),
      throughput_msgs_per_s: byQueues(rate),
      throughput_send_to_msg_p50_ms: byQueues(p50),
      throughput_send_to_msg_p99_ms: byQueues(p99),
      throughput_do_requests_per_msg: byQueues((p) => costs(p).doRequests),
      throughput_rows_read_per_msg: byQueues((p) => costs(p).rowsRead),
      throughput_rows_written_per_msg: byQueues((p) => costs(p).rowsWritten),
      throughput_cpu_ms: byQueues((p) => perOp(p).relayNet),
    });
  }
  json.free_plan_msgs_per_day = perDay;
  json.free_plan_limits_per_day = { do_requests: FREE_PLAN.doRequests, rows_written: FREE_PLAN.rowsWritten, rows_read: FREE_PLAN.rowsRead };
  json.message_counters = Object.fromEntries(
    msgPhases.flatMap((p) => {
      const key = p.scenario === "throughput" ? `throughput_${p.queues}` : p.scenario;
      const out: [string, Counters][] = [[key, delta(p)]];
      if (p.afterSends) {
        out.push([`${key}_sends`, counterDelta(p.counters!.before, p.afterSends)]);
        out.push([`${key}_drain`, counterDelta(p.afterSends, p.counters!.after)]);
      }
      return out;
    }),
  );
  return json;
}

function report(
  opts: Options,
  procs: RelayProcesses,
  phases: Phase[],
  msgPhases: MsgPhase[],
  micro: MicroResult[],
  inWorkerd: Map<string, number | null>,
  date: Date,
): Record<string, unknown> {
  const machine = {
    date: date.toISOString(),
    node_version: process.version,
    cpu_model: cpuModel(),
    cpu_count: cpus().length,
    kernel: release(),
    loadavg_1m_at_start: Number(loadavg()[0]?.toFixed(2)),
    wrangler_version: versionOf("../node_modules/wrangler/package.json"),
    workerd_version: versionOf("../node_modules/wrangler/node_modules/@cloudflare/workerd-linux-64/package.json"),
  };
  console.log(`\nSMP relay bench, ${machine.date}`);
  console.log(`node ${machine.node_version}, ${machine.cpu_model} x${machine.cpu_count}, Linux ${machine.kernel}, load ${machine.loadavg_1m_at_start}`);
  console.log(`wrangler ${machine.wrangler_version}, workerd ${machine.workerd_version}`);
  console.log(
    `relay workerd pid ${procs.relay} (runs the Worker)` +
      (procs.proxy !== null ? `, proxy workerd pid ${procs.proxy} (wrangler's ProxyWorker on the public port)` : "") +
      (procs.workerdPid !== procs.relay ? `; workerdPid() returned ${procs.workerdPid}` : ""),
  );

  const [hs, seq, bat, http] = phases as [Phase, Phase, Phase, Phase];
  const f = { hs: perOp(hs), seq: perOp(seq), bat: perOp(bat), http: perOp(http) };
  const rate = (p: Phase): number => (p.completed / p.loopMs) * 1000;

  console.log("\nRelay CPU per operation (workerd process CPU from /proc, 10 ms ticks; ms per op)\n");
  const row = (p: Phase, o: PerOp): string[] => [
    p.name,
    String(p.completed),
    fmt(p.loopMs / 1000, 1),
    fmt(o.relay, 3),
    `${fmt(o.relayNet, 3)} ±${fmt(o.resolution, 3)}`,
    fmt(o.relayUserShare * 100, 0),
    fmt(o.proxyNet, 3),
    fmt(o.client, 3),
    fmt(rate(p), 0),
  ];
  console.log(
    table(
      ["", "ops", "wall s", "relay", "relay net of idle", "user %", "proxy net", "client", "ops/s"],
      [row(hs, f.hs), row(seq, f.seq), row(bat, f.bat), row(http, f.http)],
    ),
  );

  console.log("\nWall-clock latency (client side, ms)\n");
  console.log(
    table(
      ["", "of", "p50", "p99", "max"],
      phases.map((p) => [p.name, p.sampleLabel, fmt(percentile(p.samples, 50), 3), fmt(percentile(p.samples, 99), 3), fmt(Math.max(...p.samples), 3)]),
    ),
  );

  console.log("\nIdle baseline: the same processes over a window as long as the phase, right after it (CPU ms per s)\n");
  console.log(
    table(
      ["after", "idle s", "relay", "proxy", "wrangler+esbuild"],
      phases.map((p) => [
        p.name,
        fmt(p.idle.wallMs / 1000, 1),
        fmt((p.idle.relayMs / p.idle.wallMs) * 1000, 2),
        fmt((p.idle.proxyMs / p.idle.wallMs) * 1000, 2),
        fmt((p.idle.othersMs / p.idle.wallMs) * 1000, 2),
      ]),
    ),
  );
  for (const p of phases) if (p.note) console.log(`note (${p.name}): ${p.note}`);
  for (const p of phases) {
    if (p.storageFiles <= 0) continue;
    console.log(
      `storage (${p.name}): ${p.storageFiles} new files in the relay's storage directory, ${fmt(p.storageFiles / Math.max(1, p.completed), 1)} per op` +
        " (wrangler dev gives every Session object its own SQLite database)",
    );
  }

  const messagesJson = reportMessages(msgPhases);

  const byName = (n: string): MicroResult | undefined => micro.find((m) => m.name === n);
  if (micro.length > 0) {
    console.log("\nServer-side work, in-process microbenchmarks (µs per op)");
    console.log(`Node ${process.version}: WebCrypto on OpenSSL ${process.versions.openssl}, run on the libuv thread pool (CPU counts all threads).`);
    console.log("workerd: WebCrypto on BoringSSL, synchronous; other JIT state. Same source (bench/ops.ts) in both; XSalsa20-Poly1305 is");
    console.log("@noble (pure JS), the chain's HKDF node:crypto's (native) in both, as in the relay and the bench's client.");
    console.log("workerd figures are its process CPU per op from /proc, empty-request cost subtracted.\n");
    console.log(
      table(
        ["", "Node iterations", "Node wall µs", "Node CPU µs", "workerd CPU µs"],
        micro.map((m) => [
          "  ".repeat(m.depth) + m.name,
          String(m.iterations),
          fmt(m.wallUs, 1),
          fmt(m.cpuUs, 1),
          fmt(inWorkerd.get(m.name), 1),
        ]),
      ),
    );
  }

  const all = [...phases, ...msgPhases];
  const idleTotal = all.reduce((s, p) => s + p.idle.relayMs, 0);
  const idleWall = all.reduce((s, p) => s + p.idle.wallMs, 0);
  const idleProxyTotal = all.reduce((s, p) => s + p.idle.proxyMs, 0);
  return {
    handshake_cpu_ms: r3(f.hs.relayNet),
    handshake_cpu_ms_gross: r3(f.hs.relay),
    handshake_proxy_cpu_ms: r3(f.hs.proxyNet),
    handshake_client_cpu_ms: r3(f.hs.client),
    handshake_p50_ms: r3(percentile(hs.samples, 50)),
    handshake_p99_ms: r3(percentile(hs.samples, 99)),
    handshakes: hs.completed,
    ping_cpu_ms: r3(f.seq.relayNet),
    ping_cpu_ms_gross: r3(f.seq.relay),
    ping_proxy_cpu_ms: r3(f.seq.proxyNet),
    ping_client_cpu_ms: r3(f.seq.client),
    ping_p50_ms: r3(percentile(seq.samples, 50)),
    ping_p99_ms: r3(percentile(seq.samples, 99)),
    pings: seq.completed,
    ping_batched_cpu_ms: r3(f.bat.relayNet),
    ping_batched_cpu_ms_gross: r3(f.bat.relay),
    ping_batched_proxy_cpu_ms: r3(f.bat.proxyNet),
    ping_batched_client_cpu_ms: r3(f.bat.client),
    ping_batched_per_s: r3(rate(bat)),
    ping_batched_block_p50_ms: r3(percentile(bat.samples, 50)),
    ping_batched_block_p99_ms: r3(percentile(bat.samples, 99)),
    http_health_cpu_ms: r3(f.http.relayNet),
    http_health_proxy_cpu_ms: r3(f.http.proxyNet),
    http_health_p50_ms: r3(percentile(http.samples, 50)),
    pings_batched: bat.completed,
    batch_size: opts.batchSize,
    msg_bytes: opts.msgBytes,
    idle_cpu_ms_per_s: r3((idleTotal / idleWall) * 1000),
    idle_proxy_cpu_ms_per_s: r3((idleProxyTotal / idleWall) * 1000),
    cpu_tick_ms: TICK_MS,
    node_handshake_us: r3(byName(HANDSHAKE_OP)?.cpuUs ?? NaN),
    node_block_roundtrip_us: r3(byName(BLOCK_OP)?.cpuUs ?? NaN),
    workerd_handshake_us: r3(inWorkerd.get(HANDSHAKE_OP) ?? NaN),
    workerd_block_roundtrip_us: r3(inWorkerd.get(BLOCK_OP) ?? NaN),
    micro: micro.map((m) => ({
      name: m.name,
      node_iterations: m.iterations,
      node_wall_us: r3(m.wallUs),
      node_cpu_us: r3(m.cpuUs),
      workerd_cpu_us: r3(inWorkerd.get(m.name) ?? NaN),
    })),
    openssl_version_node: process.versions.openssl,
    ...messagesJson,
    phases: [...phases, ...msgPhases].map(phaseJson),
    processes: { relay: procs.relay, proxy: procs.proxy, workerd_pid_helper: procs.workerdPid },
    ...machine,
  };
}

// ---------------------------------------------------------------------------------------------

/** Short-link costs: operations of each kind, and messages through a client-chosen sender id. */
const LINK_OPS = 20;
const LINK_MESSAGES = 50;

/** The vars the bench runs the relay with (on top of wrangler.jsonc). */
const BENCH_RELAY_VARS = { RELAY_DEBUG_METRICS: "true", NEW_QUEUES_PER_MINUTE: "100000", MAX_PENDING_BLOCKS: "1024" };

async function main(): Promise<number> {
  const opts = cliOptions(process.argv.slice(2), HELP, parseOptions);
  if (typeof opts === "number") return opts;
  // The bench's clients are our client library in Node, set up as a Node user would set it up.
  if (!useNodeCrypto()) throw new Error("node:crypto's HKDF was refused (it disagrees with @noble/hashes)");
  const o = opts;
  const watchdog = setTimeout(() => void bail(1, `the run took longer than ${o.timeoutMs / 1000} s`), o.timeoutMs);
  watchdog.unref();
  const date = new Date();

  // Keep wrangler from fetching the Request.cf object from workers.cloudflare.com: the bench talks
  // to 127.0.0.1 only (startRelay passes our environment on).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.stderr.write("starting the relay (wrangler dev)...\n");
  // The relay's counters (DO requests, SQLite rows) at GET /debug/metrics, for the messages phase;
  // NEW's per-connection rate limit (60 a minute by default) raised: one recipient connection
  // creates the 100 queues of the throughput phase, and more for the load sweep; and the bound on
  // a connection's pending blocks (64) raised: with 100 queues in flight the sender has up to 100
  // SEND blocks waiting in its Session object, which the relay would otherwise take for a flood.
  const r = await start(() => startRelay({ vars: BENCH_RELAY_VARS }));
  const health = (await (await fetch(`${r.httpUrl}/health`)).json()) as { address: string };
  const keyHash = parseAddress(health.address).keyHash;
  const ctx: Ctx = {
    procs: findRelayProcesses(r),
    findProcs: () => findRelayProcesses(r),
    persistTo: r.persistTo,
    healthUrl: `${r.httpUrl}/health`,
    metricsUrl: `${r.httpUrl}/debug/metrics`,
    opts: o,
    socketOf: new WeakMap(),
    open: async () => {
      const c = await connect(r.wsUrl, keyHash, { WebSocket: TimedWebSocket as unknown as WebSocketConstructor, pingInterval: 0 });
      if (TimedWebSocket.last) ctx.socketOf.set(c, TimedWebSocket.last);
      return c;
    },
  };

  /** A connection on a warm relay: 20 handshakes, 200 PINGs, 5 batches and 50 requests first. */
  const warmUp = async (): Promise<SMPClient> => {
    process.stderr.write("warming up: 20 handshakes, 200 PINGs, 5 batches, 50 GET /health\n");
    const deadline = performance.now() + 60_000;
    for (let i = 0; i < 50 && performance.now() < deadline; i++) await (await fetch(ctx.healthUrl, { signal: AbortSignal.timeout(10_000) })).arrayBuffer();
    for (let i = 0; i < 20 && performance.now() < deadline; i++) (await ctx.open()).close();
    const c = await ctx.open();
    try {
      for (let i = 0; i < 200 && performance.now() < deadline; i++) await c.ping();
      for (let i = 0; i < 5 && performance.now() < deadline; i++) await Promise.all(Array.from({ length: o.batchSize }, () => c.ping()));
    } catch (e) {
      c.close();
      throw e;
    }
    await sleep(1000);
    return c;
  };

  /** After a reload: wait for the new workerd, find it, warm it up (another reload may interrupt). */
  const recover = async (): Promise<SMPClient> => {
    for (let attempt = 1; ; attempt++) {
      await waitSettled(r, "/health");
      ctx.procs = findRelayProcesses(r);
      try {
        return await warmUp();
      } catch (e) {
        if (attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  };

  const plan: PhaseRun[] = [
    (c, conn) => handshakes(c, conn, o.handshakes),
    (c, conn) => sequentialPings(c, conn, o.pings),
    (c, conn) => batchedPings(c, conn, o.pings * o.batchRounds, o.batchSize),
    (c) => httpRequests(c, HTTP_REQUESTS),
  ];
  if (o.messages > 0) plan.push((c) => steadyPhase(c, o.messages));
  if (o.backlog > 0) plan.push((c) => backlogPhase(c, o.backlog));
  if (o.throughputTotal > 0) for (const nq of o.throughputQueues) plan.push((c) => throughputPhase(c, levelTotal(o, nq), nq));
  const phases: Phase[] = [];
  let conn = await warmUp();
  try {
    process.stderr.write("measuring:\n");
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
  // Short-link costs (counters only, no timing): on the same relay, after the timed phases.
  let linkJson: Record<string, number> = {};
  if (o.messages > 0) {
    process.stderr.write("short-link costs (counters)...\n");
    linkJson = await withPair(ctx, 1, async (p, [reader]) => reportLinkCosts(await measureLinkCosts(p, reader!, ctx.metricsUrl, LINK_OPS, LINK_MESSAGES, o.msgBytes)));
  }
  const procs = ctx.procs;
  await stop(r);

  // Memory of idle connections, on a relay of its own: a fresh workerd, as baseline A's is when it
  // is measured the same way (opening hundreds of connections leaves workerd bigger and slower
  // for what follows, so not on the relay measured above). N handshaken connections, left alone
  // long enough for their Session objects to be evicted, then closed.
  let relayMemory: IdleMemory | null = null;
  if (o.idleConns > 0) {
    process.stderr.write("a second relay for the memory of idle connections (wrangler dev)...\n");
    const m = await start(() => startRelay({ vars: BENCH_RELAY_VARS }));
    try {
      // Its own storage, so its own identity.
      const mHealth = (await (await fetch(`${m.httpUrl}/health`)).json()) as { address: string };
      const mKeyHash = parseAddress(mHealth.address).keyHash;
      const open = (): Promise<SMPClient> => connect(m.wsUrl, mKeyHash, { WebSocket: TimedWebSocket as unknown as WebSocketConstructor, pingInterval: 0 });
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

  // The baselines, one after the other, each under its own wrangler dev, at the same loads.
  const baselines: BaselineResult[] = [];
  if (!o.skipBaselines && o.throughputTotal > 0) {
    const kinds: BaselineKind[] = o.skipFloors ? ["forward", "topology"] : ["forward", "topology", "storage", "floor"];
    for (const kind of kinds) {
      baselines.push(
        await runBaseline(kind, {
          levels: o.throughputQueues.map((q) => ({ queues: q, total: levelTotal(o, q) })),
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

  const msgPhases = phases.filter(isMsgPhase);
  const json = {
    ...report(
      o,
      procs,
      phases.filter((p) => !isMsgPhase(p)),
      msgPhases,
      micro,
      inWorkerd,
      date,
    ),
    ...linkJson,
  };
  const relayPoints: LoadPoint[] = msgPhases
    .filter((p) => p.scenario === "throughput")
    .map((p) => {
      const c = perOp(p);
      return {
        queues: p.queues,
        completed: p.completed,
        loopMs: p.loopMs,
        samples: p.samples,
        wireSamples: p.wireSamples,
        workerdCpuMs: c.relayNet,
        proxyCpuMs: c.proxyNet,
        clientCpuMs: c.client,
        note: p.note,
      };
    });
  const back = msgPhases.find((p) => p.scenario === "backlog");
  const num = (k: string): number | null => (typeof json[k] === "number" ? (json[k] as number) : null);
  Object.assign(
    json,
    reportComparison({
      relay: relayPoints,
      baselines,
      relayMemory,
      figures: { do_requests_per_msg: num("do_requests_per_msg"), rows_written_per_msg: num("rows_written_per_msg"), handshake_cpu_ms: num("handshake_cpu_ms") },
      stored: back?.stored
        ? {
            inUse: back.stored.afterSends.inUseBytes - back.stored.before.inUseBytes,
            allocated: back.stored.afterSends.allocatedBytes - back.stored.before.allocatedBytes,
            messages: back.sent,
          }
        : null,
    }),
  );

  // The chart: bench-output/ (or --chart), and next to the JSON.
  const series = chartSeries(relayPoints, baselines);
  if (series.length > 0) {
    const svg = renderChart(series, {
      title: "SMP relay against its baselines: SEND → MSG latency and throughput under load",
      subtitle: `${date.toISOString().slice(0, 16).replace("T", " ")} UTC · wrangler dev (local workerd) · ${cpus().length} vCPUs, ${cpuModel()} · ${o.msgBytes}-byte bodies in 16 KB frames`,
    });
    const charts = [o.chart];
    if (o.json !== null) charts.push(o.json.replace(/\.json$/i, "") + ".svg");
    for (const file of [...new Set(charts.map((f) => resolve(f)))]) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, svg);
      console.log(`wrote ${file}`);
    }
    json.chart = resolve(o.json !== null ? o.json.replace(/\.json$/i, "") + ".svg" : o.chart);
  }
  if (o.json !== null) {
    mkdirSync(dirname(resolve(o.json)), { recursive: true });
    writeFileSync(o.json, JSON.stringify(json, null, 2) + "\n");
    console.log(`wrote ${o.json}`);
  }
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  if (bailing) await new Promise((r) => setTimeout(r, 30_000)); // bail() exits before that
  console.error(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  // (set inside main(), which control-flow analysis does not see)
  const last = lastStarted as RunningRelay | null;
  if (last) console.error(`wrangler dev log (tail):\n${last.log().slice(-2000)}`);
  code = 1;
} finally {
  await stopAll();
}
process.exit(code);
