// `npm run bench`: the relay's CPU time per handshake and per PING round trip, measured on a
// `wrangler dev` relay (workerd process CPU from /proc), plus in-process microbenchmarks of the
// server-side crypto. See bench/README.md for what each figure means.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { connect, type SMPClient } from "../src/client/client.js";
import type { WebSocketConstructor } from "../src/client/socket.js";
import { parseAddress } from "../src/protocol/address.js";
import { startRelay, type RunningRelay } from "../test/helpers/relay.js";
import { fmt, percentile, table } from "./format.js";
import { runMicro, type MicroResult } from "./micro.js";
import { BLOCK_OP, HANDSHAKE_OP } from "./ops.js";
import { reloadCount, waitSettled } from "./reload.js";
import { startOpsWorker, runWorkerdMicro } from "./workerd-micro.js";
import { childPids, delta, findRelayProcesses, snapshot, type Delta, type RelayProcesses } from "./proc.js";

const HELP = `usage: npm run bench -- [options]

  --handshakes N     sequential connect()+close() to measure (default 200)
  --pings M          sequential PINGs on one connection (default 2000)
  --batch-size B     PINGs sent together, packed in one block (default 100)
  --batch-rounds R   the batched run sends M PINGs R times (default 10)
  --micro-ms MS      time budget per microbenchmark figure (default 1500; 0 skips them)
  --phase-timeout S  time limit of each measured loop, seconds (default 60)
  --timeout S        time limit of the whole run, seconds (default 300)
  --json FILE        also write the figures as JSON
  --help`;

interface Options {
  handshakes: number;
  pings: number;
  batchSize: number;
  batchRounds: number;
  microMs: number;
  phaseTimeoutMs: number;
  timeoutMs: number;
  json: string | null;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      handshakes: { type: "string" },
      pings: { type: "string" },
      "batch-size": { type: "string" },
      "batch-rounds": { type: "string" },
      "micro-ms": { type: "string" },
      "phase-timeout": { type: "string" },
      timeout: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = (name: string, v: string | undefined, def: number, min: number, max: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, not ${JSON.stringify(v)}`);
    return n;
  };
  const batchSize = int("batch-size", values["batch-size"], 100, 1, 200);
  return {
    handshakes: int("handshakes", values.handshakes, 200, 1, 100_000),
    pings: int("pings", values.pings, 2000, 1, 10_000_000),
    batchSize,
    batchRounds: int("batch-rounds", values["batch-rounds"], 10, 1, 10_000),
    microMs: int("micro-ms", values["micro-ms"], 1500, 0, 60_000),
    phaseTimeoutMs: int("phase-timeout", values["phase-timeout"], 60, 1, 3600) * 1000,
    timeoutMs: int("timeout", values.timeout, 300, 10, 24 * 3600) * 1000,
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

const WS = WebSocket as unknown as WebSocketConstructor;
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
  sampleLabel: string;
  /** Files the relay's storage directory gained during the phase. */
  storageFiles: number;
  note: string | null;
}

interface Ctx {
  /** Found again after a reload (workerd may be a new process then). */
  procs: RelayProcesses;
  persistTo: string;
  healthUrl: string;
  open: () => Promise<SMPClient>;
  opts: Options;
}

type PhaseRun = (ctx: Ctx, conn: SMPClient) => Promise<Phase>;
const MAX_ATTEMPTS = 3;

async function measurePhase(
  ctx: Ctx,
  name: string,
  requested: number,
  sampleLabel: string,
  loop: (deadline: number, samples: number[]) => Promise<{ completed: number; note?: string }>,
): Promise<Phase> {
  process.stderr.write(`  ${name}...`);
  const samples: number[] = [];
  const files0 = countFiles(ctx.persistTo);
  const before = snapshot(ctx.procs);
  const t0 = performance.now();
  const { completed, note } = await loop(t0 + ctx.opts.phaseTimeoutMs, samples);
  const loopMs = performance.now() - t0;
  await sleep(SETTLE_MS);
  const after = snapshot(ctx.procs);
  const cpu = delta(before, after);
  const storageFiles = countFiles(ctx.persistTo) - files0;
  const idleMs = Math.min(10_000, Math.max(1000, cpu.wallMs));
  const i0 = snapshot(ctx.procs);
  await sleep(idleMs);
  const idle = delta(i0, snapshot(ctx.procs));
  process.stderr.write(` ${completed} in ${(loopMs / 1000).toFixed(1)} s\n`);
  const truncated = completed < requested ? `time limit reached after ${completed} of ${requested}` : null;
  return { name, requested, completed, loopMs, cpu, idle, samples, sampleLabel, storageFiles, note: [truncated, note].filter(Boolean).join("; ") || null };
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

function report(
  opts: Options,
  procs: RelayProcesses,
  phases: Phase[],
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

  const byName = (n: string): MicroResult | undefined => micro.find((m) => m.name === n);
  if (micro.length > 0) {
    console.log("\nServer-side work, in-process microbenchmarks (µs per op)");
    console.log(`Node ${process.version}: WebCrypto on OpenSSL ${process.versions.openssl}, run on the libuv thread pool (CPU counts all threads).`);
    console.log("workerd: WebCrypto on BoringSSL, synchronous; other JIT state. Same source (bench/ops.ts) in both; block crypto is");
    console.log("@noble (pure JS). workerd figures are its process CPU per op from /proc, empty-request cost subtracted.\n");
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

  const idleTotal = phases.reduce((s, p) => s + p.idle.relayMs, 0);
  const idleWall = phases.reduce((s, p) => s + p.idle.wallMs, 0);
  const idleProxyTotal = phases.reduce((s, p) => s + p.idle.proxyMs, 0);
  const r3 = (v: number): number | null => (Number.isFinite(v) ? Number(v.toFixed(4)) : null);
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
    phases: phases.map((p) => ({
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
      note: p.note,
    })),
    processes: { relay: procs.relay, proxy: procs.proxy, workerd_pid_helper: procs.workerdPid },
    ...machine,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let opts: Options | null;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (opts === null) {
    console.log(HELP);
    return 0;
  }
  const o = opts;
  const watchdog = setTimeout(() => void bail(1, `the run took longer than ${o.timeoutMs / 1000} s`), o.timeoutMs);
  watchdog.unref();
  const date = new Date();

  // Keep wrangler from fetching the Request.cf object from workers.cloudflare.com: the bench talks
  // to 127.0.0.1 only (startRelay passes our environment on).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.stderr.write("starting the relay (wrangler dev)...\n");
  const r = await start(() => startRelay());
  const health = (await (await fetch(`${r.httpUrl}/health`)).json()) as { address: string };
  const keyHash = parseAddress(health.address).keyHash;
  const ctx: Ctx = { procs: findRelayProcesses(r), persistTo: r.persistTo, healthUrl: `${r.httpUrl}/health`, opts: o, open: () => connect(r.wsUrl, keyHash, { WebSocket: WS, pingInterval: 0 }) };

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
          if (reloadCount(r) === reloads) throw e;
          why = `a reload of the Worker interrupted the measurement (${(e as Error).message})`;
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
  const procs = ctx.procs;
  await stop(r);

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

  const json = report(o, procs, phases, micro, inWorkerd, date);
  if (o.json !== null) {
    writeFileSync(o.json, JSON.stringify(json, null, 2) + "\n");
    console.log(`\nwrote ${o.json}`);
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
