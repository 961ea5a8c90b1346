// The bench's report: the machine, the relay's connection phases (CPU per operation, latency,
// idle baseline), the messages section (report-messages.ts), the microbenchmarks, and the JSON
// keys of all of them; then the relay's load points for the comparison with the baselines
// (compare.ts), and the chart and the JSON written out.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname, resolve } from "node:path";
import { renderChart } from "./chart.js";
import { chartSeries, type BaselineResult, type ComparisonInput, type LoadPoint } from "./compare.js";
import { fmt, percentile, r3, table } from "./format.js";
import { perOp, TICK_MS, type Phase, type PerOp } from "./measure.js";
import type { ResubPhase } from "./connections.js";
import type { MsgPhase } from "./message-phases.js";
import { counterDelta } from "./counters.js";
import type { MicroResult } from "./micro.js";
import { BLOCK_OP, HANDSHAKE_OP } from "./ops.js";
import type { RelayProcesses } from "./proc.js";
import { CIPHER_OPS } from "./workerd/cipher.js";
import { reportConnectionCosts } from "./report-connections.js";
import { reportMessages } from "./report-messages.js";
import type { Options } from "./run-options.js";

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

export function report(
  opts: Options,
  procs: RelayProcesses,
  phases: Phase[],
  msgPhases: MsgPhase[],
  resub: ResubPhase | undefined,
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

  const connectionsJson = reportConnectionCosts(hs, resub);
  const messagesJson = reportMessages(msgPhases);

  const byName = (n: string): MicroResult | undefined => micro.find((m) => m.name === n);
  if (micro.length > 0) {
    console.log("\nServer-side work, in-process microbenchmarks (µs per op)");
    console.log(`Node ${process.version}: WebCrypto on OpenSSL ${process.versions.openssl}, run on the libuv thread pool (CPU counts all threads).`);
    console.log("workerd: WebCrypto on BoringSSL, synchronous; other JIT state. Same source (bench/ops.ts) in both; XSalsa20-Poly1305 is");
    console.log("libsodium (WebAssembly) as in the relay, with both backends timed in the two secretbox rows; the chain's HKDF is");
    console.log("node:crypto's (native) in both, as in the relay and the bench's client.");
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
  const cipher = cipherSpeedup(inWorkerd);
  if (cipher.cipher_speedup !== undefined) console.log(`16 KB secretbox seal + open in workerd, @noble / libsodium: ${fmt(cipher.cipher_speedup, 2)}× (cipher_speedup)`);

  const all = [...phases, ...msgPhases, ...(resub ? [resub] : [])];
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
    ...cipher,
    ...connectionsJson,
    ...messagesJson,
    phases: all.map(phaseJson),
    processes: { relay: procs.relay, proxy: procs.proxy, workerd_pid_helper: procs.workerdPid },
    ...machine,
  };
}

/**
 * `cipher_speedup`: @noble's time over libsodium's for 16 KB secretbox seal + open inside workerd,
 * same run (`inWorkerd`, µs by op name: CIPHER_OPS, workerd/cipher.ts); no key until both are measured.
 */
export function cipherSpeedup(inWorkerd: Map<string, number | null>): { cipher_speedup?: number | null } {
  const noble = inWorkerd.get(CIPHER_OPS.noble);
  const sodium = inWorkerd.get(CIPHER_OPS.libsodium);
  if (noble === undefined || noble === null || sodium === undefined || sodium === null || !(sodium > 0)) return {};
  return { cipher_speedup: r3(noble / sodium) };
}

// ---------------------------------------------------------------------------------------------
// Against the baselines, and written out

/** The relay's throughput runs as load points, for the comparison and the chart. */
export function relayLoadPoints(msgPhases: MsgPhase[]): LoadPoint[] {
  return msgPhases
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
}

/** What compare.ts needs from the relay's run: its load points and the stored bytes. */
export function comparisonInput(
  relay: LoadPoint[],
  msgPhases: MsgPhase[],
  baselines: BaselineResult[],
  relayMemory: ComparisonInput["relayMemory"],
): ComparisonInput {
  const back = msgPhases.find((p) => p.scenario === "backlog");
  return {
    relay,
    baselines,
    relayMemory,
    stored: back?.stored
      ? {
          inUse: back.stored.afterSends.inUseBytes - back.stored.before.inUseBytes,
          allocated: back.stored.afterSends.allocatedBytes - back.stored.before.allocatedBytes,
          messages: back.sent,
        }
      : null,
  };
}

/** The chart (bench-output/, or --chart, and next to the JSON), then the JSON (--json), which names the chart. */
export function writeOutputs(o: Options, date: Date, relay: LoadPoint[], baselines: BaselineResult[], json: Record<string, unknown>): void {
  const series = chartSeries(relay, baselines);
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
}
