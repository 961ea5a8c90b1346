// The relay against its baselines, in the same run: the baselines driven at the same loads as
// the relay's throughput runs (bench/baselines.ts), the figures side by side, the ratios against
// them (their targets are in targets.ts), and the chart's series (bench/chart.ts).
import type { RunningRelay } from "../test/helpers/relay.js";
import { closedLoop, openConn, openPair, quiesce, startBaseline, subscribeQueues, BASELINES, type BaselineKind } from "./baselines.js";
import type { ChartSeries } from "./chart.js";
import { fmt, percentile, r3, table } from "./format.js";
import { idleMemory, perConnection, waitIdle, type IdleMemory } from "./memory.js";
import { delta, findRelayProcesses, snapshot, type Delta } from "./proc.js";
import { reloadCount } from "./reload.js";

/** One load level of one system: Q queues in flight, `completed` messages through them. */
export interface LoadPoint {
  queues: number;
  completed: number;
  loopMs: number;
  /** send → delivery, ms (the relay: SEND called → MSG handed to the client's listeners). */
  samples: number[];
  /** The relay only: the same from socket to socket (the clients' own work left out). */
  wireSamples: number[];
  /** workerd running the Worker, per message, ms (the relay's net of idle). */
  workerdCpuMs: number;
  proxyCpuMs: number;
  clientCpuMs: number;
  note: string | null;
}

export interface BaselineResult {
  kind: BaselineKind;
  points: LoadPoint[];
  memory: IdleMemory | null;
}

export interface BaselineRunOptions {
  /** Messages per level: the baselines run BASELINE_MESSAGE_FACTOR × the relay's, so that a level lasts about a second. */
  levels: { queues: number; total: number }[];
  phaseTimeoutMs: number;
  idleConns: number;
  idleWaitMs: number;
  /** run.ts's start()/stop(), which also clean up on a signal. */
  start: (what: () => Promise<RunningRelay>) => Promise<RunningRelay>;
  stop: (r: RunningRelay) => Promise<void>;
  progress: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Messages through each queue before the window, as the relay's throughput runs do. */
const WARMUP_ROUNDS = 3;
const SETTLE_MS = 250;
const MAX_ATTEMPTS = 3;
/** The baselines are 10–20 times faster than the relay here: more messages per level, for steadier figures. */
export const BASELINE_MESSAGE_FACTOR = 3;

export async function runBaseline(kind: BaselineKind, o: BaselineRunOptions): Promise<BaselineResult> {
  o.progress(`${BASELINES[kind].label} (wrangler dev -c ${BASELINES[kind].config})...\n`);
  const w = await o.start(() => startBaseline(kind));
  try {
    // Warm-up: a connection and 1000 messages, so workerd has compiled the paths.
    {
      const p = await openPair(kind, w.wsUrl);
      try {
        await subscribeQueues(p, 0, 1);
        await closedLoop(p, 0, 1, 1000, performance.now() + 30_000, []);
        await quiesce(p);
      } finally {
        p.close();
      }
    }
    let memory: IdleMemory | null = null;
    if (o.idleConns > 0 && kind === "forward") {
      // Measured as the relay's: early, on a workerd that has seen few connections. One room
      // each: one object per connection, as the relay's Session objects.
      o.progress(`  ${o.idleConns} idle connections, ${o.idleWaitMs / 1000} s...`);
      memory = await idleMemory(findRelayProcesses(w), o.idleConns, o.idleWaitMs, (i) => openConn(`${w.wsUrl}?room=idle-${i}`));
      o.progress(" done\n");
      await waitIdle(findRelayProcesses(w).relay);
    }
    // And one discarded level on a fresh pair, as the relay's steady-stream and backlog phases
    // come before its first level (without it, the floor F twice ran its first level at three
    // times its usual CPU per message).
    await level(w, kind, 1, 300, o.phaseTimeoutMs);
    const points: LoadPoint[] = [];
    for (const { queues, total } of o.levels) {
      for (let attempt = 1; ; attempt++) {
        const reloads = reloadCount(w);
        o.progress(`  ${queues} queue${queues === 1 ? "" : "s"}...`);
        const pt = await level(w, kind, queues, total * BASELINE_MESSAGE_FACTOR, o.phaseTimeoutMs);
        o.progress(` ${pt.completed} in ${(pt.loopMs / 1000).toFixed(1)} s\n`);
        if (reloadCount(w) === reloads) {
          points.push(attempt > 1 ? { ...pt, note: `measured on attempt ${attempt}` } : pt);
          break;
        }
        if (attempt >= MAX_ATTEMPTS) throw new Error(`${BASELINES[kind].label}: wrangler kept reloading`);
      }
    }
    return { kind, points, memory };
  } finally {
    await o.stop(w);
  }
}

async function level(w: RunningRelay, kind: BaselineKind, queues: number, total: number, timeoutMs: number): Promise<LoadPoint> {
  const procs = findRelayProcesses(w);
  const p = await openPair(kind, w.wsUrl);
  try {
    await subscribeQueues(p, 0, queues);
    for (let i = 0; i < WARMUP_ROUNDS; i++) {
      const r = await closedLoop(p, 0, queues, queues, performance.now() + 30_000, []);
      if (r.completed < queues) throw new Error(`${BASELINES[kind].label}: warm-up of ${queues} queues timed out`);
    }
    await quiesce(p, 50);
    const samples: number[] = [];
    const before = snapshot(procs);
    const t0 = performance.now();
    const r = await closedLoop(p, 0, queues, total, t0 + timeoutMs, samples);
    const loopMs = performance.now() - t0;
    await sleep(SETTLE_MS);
    const d: Delta = delta(before, snapshot(procs));
    const n = Math.max(1, r.completed);
    return {
      queues,
      completed: r.completed,
      loopMs,
      samples,
      wireSamples: [],
      workerdCpuMs: d.relayMs / n,
      proxyCpuMs: d.proxyMs / n,
      clientCpuMs: d.clientMs / n,
      note: r.completed < total ? `time limit reached after ${r.completed} of ${total}` : null,
    };
  } finally {
    p.close();
  }
}

// ---- Figures ----

const rate = (p: LoadPoint): number => (p.completed / p.loopMs) * 1000;
const p50 = (s: number[]): number => percentile(s, 50);
const p99 = (s: number[]): number => percentile(s, 99);

/** Where the throughput ratio against floor F is taken: queues in flight (issue 13). */
export const THROUGHPUT_RATIO_QUEUES = 10;

export interface ComparisonInput {
  relay: LoadPoint[];
  baselines: BaselineResult[];
  relayMemory: IdleMemory | null;
  /** Bytes the backlog's queue database grew by per pending message (in use, allocated), if measured. */
  stored: { inUse: number; allocated: number; messages: number } | null;
}

/** Prints the comparison and returns its JSON keys. */
export function reportComparison(c: ComparisonInput): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  const byKind = (k: BaselineKind): BaselineResult | undefined => c.baselines.find((b) => b.kind === k);
  const fwd = byKind("forward");
  const top = byKind("topology");
  const sto = byKind("storage");
  const flo = byKind("floor");
  const floNoble = byKind("floorNoble");
  const floAuth = byKind("floorAuth");
  const at = (pts: LoadPoint[] | undefined, q: number): LoadPoint | undefined => pts?.find((p) => p.queues === q);
  const queues = [...new Set([...c.relay, ...c.baselines.flatMap((b) => b.points)].map((p) => p.queues))].sort((a, b) => a - b);

  if (c.relay.length > 0 || c.baselines.length > 0) {
    console.log("\nRelay against the baselines, same run, same load: Q queues in flight, one message outstanding per queue,");
    console.log("the next SEND when the previous message arrives (with its ACK); 16 KB frames everywhere.");
    console.log("A = one object forwarding frames between two sockets; B = our objects and RPCs, no crypto, no storage.");
    console.log("Latency: send → delivery, ms. Relay 'wire': the SEND's block leaving the sender's socket → the MSG's frame");
    console.log("reaching the recipient's (the clients' crypto left out, as the baselines' clients have none).\n");
    const cell = (p: LoadPoint | undefined, f: (p: LoadPoint) => number, d: number): string => (p ? fmt(f(p), d) : "-");
    console.log(
      table(
        ["queues", "relay msgs/s", "p50", "p99", "wire p50", "wire p99", "A msgs/s", "p50", "p99", "B msgs/s", "p50", "p99", "relay/A p50", "relay/B p50"],
        queues.map((q) => {
          const r = at(c.relay, q);
          const a = at(fwd?.points, q);
          const b = at(top?.points, q);
          return [
            String(q),
            cell(r, rate, 0),
            cell(r, (p) => p50(p.samples), 2),
            cell(r, (p) => p99(p.samples), 2),
            cell(r, (p) => p50(p.wireSamples), 2),
            cell(r, (p) => p99(p.wireSamples), 2),
            cell(a, rate, 0),
            cell(a, (p) => p50(p.samples), 2),
            cell(a, (p) => p99(p.samples), 2),
            cell(b, rate, 0),
            cell(b, (p) => p50(p.samples), 2),
            cell(b, (p) => p99(p.samples), 2),
            r && a ? fmt(p50(r.samples) / p50(a.samples), 1) : "-",
            r && b ? fmt(p50(r.samples) / p50(b.samples), 1) : "-",
          ];
        }),
      ),
    );
    console.log("\nCPU per delivered message, ms (workerd running the Worker; wrangler's proxy workerd; this process, both clients)\n");
    console.log(
      table(
        ["queues", "relay", "proxy", "client", "A", "proxy", "client", "B", "proxy", "client"],
        queues.map((q) => {
          const r = at(c.relay, q);
          const a = at(fwd?.points, q);
          const b = at(top?.points, q);
          const three = (p: LoadPoint | undefined): string[] => [cell(p, (x) => x.workerdCpuMs, 2), cell(p, (x) => x.proxyCpuMs, 2), cell(p, (x) => x.clientCpuMs, 2)];
          return [String(q), ...three(r), ...three(a), ...three(b)];
        }),
      ),
    );
    if (sto || flo) {
      console.log("\nThe floors: B plus the work no SMP relay can skip. S = B + each message stored durably (16 KB INSERT on SEND,");
      console.log("DELETE on ACK); F = S + one XSalsa20-Poly1305 over 16 KB per frame in and out and per message sealed (the");
      console.log("relay's backend: libsodium; 'Fn' = F on @noble; 'FA' = F + the authenticator check of every SEND and ACK).");
      console.log("No parsing, no authorization, no key schedule: what any relay of this design reaches here at best.\n");
      console.log(
        table(
          ["queues", "B p50", "S msgs/s", "p50", "F msgs/s", "p50", "F CPU ms", "Fn p50", "Fn CPU ms", "FA p50", "FA CPU ms", "relay wire p50", "relay CPU ms", "S/B p50", "F/B p50", "relay wire/F", "relay/F msgs/s"],
          queues.map((q) => {
            const b = at(top?.points, q);
            const st = at(sto?.points, q);
            const f = at(flo?.points, q);
            const fn = at(floNoble?.points, q);
            const fa = at(floAuth?.points, q);
            const r = at(c.relay, q);
            return [
              String(q),
              cell(b, (p) => p50(p.samples), 2),
              cell(st, rate, 0),
              cell(st, (p) => p50(p.samples), 2),
              cell(f, rate, 0),
              cell(f, (p) => p50(p.samples), 2),
              cell(f, (p) => p.workerdCpuMs, 2),
              cell(fn, (p) => p50(p.samples), 2),
              cell(fn, (p) => p.workerdCpuMs, 2),
              cell(fa, (p) => p50(p.samples), 2),
              cell(fa, (p) => p.workerdCpuMs, 2),
              cell(r, (p) => p50(p.wireSamples), 2),
              cell(r, (p) => p.workerdCpuMs, 2),
              st && b ? fmt(p50(st.samples) / p50(b.samples), 2) : "-",
              f && b ? fmt(p50(f.samples) / p50(b.samples), 2) : "-",
              r && f && r.wireSamples.length > 0 ? fmt(p50(r.wireSamples) / p50(f.samples), 2) : "-",
              r && f ? fmt(rate(r) / rate(f), 2) : "-",
            ];
          }),
        ),
      );
    }
    for (const b of c.baselines) for (const p of b.points) if (p.note) console.log(`note (${BASELINES[b.kind].label}, ${p.queues} queues): ${p.note}`);
  }

  // Ratios at one queue in flight: the latency of a message on an otherwise idle system.
  const r1 = at(c.relay, 1);
  const a1 = at(fwd?.points, 1);
  const b1 = at(top?.points, 1);
  const s1 = at(sto?.points, 1);
  const f1 = at(flo?.points, 1);
  const ratio = (x: number[] | undefined, y: number[] | undefined): number => (x && y ? p50(x) / p50(y) : NaN);
  const latencyRatio = ratio(r1?.samples, a1?.samples);
  const overheadRatio = ratio(r1?.samples, b1?.samples);
  const latencyRatioWire = ratio(r1?.wireSamples, a1?.samples);
  const overheadRatioWire = ratio(r1?.wireSamples, b1?.samples);
  // Throughput against floor F where both are saturated: msgs/s at THROUGHPUT_RATIO_QUEUES in flight.
  const rT = at(c.relay, THROUGHPUT_RATIO_QUEUES);
  const fT = at(flo?.points, THROUGHPUT_RATIO_QUEUES);
  const throughputOverFloor = rT && fT ? rate(rT) / rate(fT) : NaN;
  const cpuRatio = (x: LoadPoint | undefined, y: LoadPoint | undefined): number => (x && y ? x.workerdCpuMs / y.workerdCpuMs : NaN);
  const byQ = (pts: LoadPoint[] | undefined, f: (p: LoadPoint) => number): Record<string, number | null> =>
    Object.fromEntries((pts ?? []).map((p) => [String(p.queues), r3(f(p))]));
  Object.assign(json, {
    latency_ratio: r3(latencyRatio),
    overhead_ratio: r3(overheadRatio),
    latency_ratio_wire: r3(latencyRatioWire),
    overhead_ratio_wire: r3(overheadRatioWire),
    ratios_at_queues: 1,
    // The floors against B, and the relay against the floor F (see the floors' table).
    floor_storage_ratio: r3(ratio(s1?.samples, b1?.samples)),
    floor_ratio: r3(ratio(f1?.samples, b1?.samples)),
    relay_over_floor: r3(ratio(r1?.samples, f1?.samples)),
    relay_over_floor_wire: r3(ratio(r1?.wireSamples, f1?.samples)),
    relay_throughput_over_floor: r3(throughputOverFloor),
    throughput_ratio_at_queues: THROUGHPUT_RATIO_QUEUES,
    // Floor F on @noble against floor F on libsodium, same run: workerd CPU per message where the
    // throughput ratio is taken, and p50 latency at 1 queue (above 1: libsodium saves that much).
    floor_cipher_speedup: r3(cpuRatio(at(floNoble?.points, THROUGHPUT_RATIO_QUEUES), fT)),
    floor_cipher_speedup_p50: r3(ratio(at(floNoble?.points, 1)?.samples, f1?.samples)),
    // The relay against F + authorization (floor FA): what is left once the protocol's
    // authenticator checks are in the floor too.
    relay_over_floor_auth_wire: r3(ratio(r1?.wireSamples, at(floAuth?.points, 1)?.samples)),
    relay_throughput_over_floor_auth: r3(rT && at(floAuth?.points, THROUGHPUT_RATIO_QUEUES) ? rate(rT) / rate(at(floAuth?.points, THROUGHPUT_RATIO_QUEUES)!) : NaN),
    floor_auth_cpu_ms_per_msg: byQ(floAuth?.points, (p) => p.workerdCpuMs),
    latency_ratio_by_queues: Object.fromEntries(queues.map((q) => [String(q), r3(ratio(at(c.relay, q)?.samples, at(fwd?.points, q)?.samples))])),
    overhead_ratio_by_queues: Object.fromEntries(queues.map((q) => [String(q), r3(ratio(at(c.relay, q)?.samples, at(top?.points, q)?.samples))])),
    throughput_send_to_msg_wire_p50_ms: byQ(c.relay, (p) => p50(p.wireSamples)),
    throughput_send_to_msg_wire_p99_ms: byQ(c.relay, (p) => p99(p.wireSamples)),
    baseline_throughput_msgs_per_s: Object.fromEntries(c.baselines.map((b) => [b.kind, byQ(b.points, rate)])),
    baselines: Object.fromEntries(
      c.baselines.map((b) => [
        b.kind,
        {
          label: BASELINES[b.kind].label,
          messages: byQ(b.points, (p) => p.completed),
          msgs_per_s: byQ(b.points, rate),
          p50_ms: byQ(b.points, (p) => p50(p.samples)),
          p99_ms: byQ(b.points, (p) => p99(p.samples)),
          workerd_cpu_ms_per_msg: byQ(b.points, (p) => p.workerdCpuMs),
          proxy_cpu_ms_per_msg: byQ(b.points, (p) => p.proxyCpuMs),
          client_cpu_ms_per_msg: byQ(b.points, (p) => p.clientCpuMs),
        },
      ]),
    ),
  });

  // Stored bytes and idle memory.
  if (c.stored) {
    const per = c.stored.inUse / Math.max(1, c.stored.messages);
    const alloc = c.stored.allocated / Math.max(1, c.stored.messages);
    console.log(
      `\nStored per pending message: ${fmt(per, 0)} bytes in use (${fmt(alloc, 0)} allocated), from the backlog queue's SQLite database ` +
        `(${c.stored.messages} messages; the sealed body is 16122 bytes)`,
    );
    Object.assign(json, { stored_bytes_per_msg: r3(per), stored_bytes_allocated_per_msg: r3(alloc) });
  }
  const mem: [string, IdleMemory | null][] = [
    ["relay", c.relayMemory],
    ["baseline A", fwd?.memory ?? null],
  ];
  if (mem.some(([, m]) => m)) {
    console.log("\nIdle connections: resident memory (VmRSS) of the workerd running the Worker and of wrangler's proxy, per connection, KiB");
    console.log("(live: right after opening them; idle: after the wait, objects evicted, sockets hibernated)\n");
    console.log(
      table(
        ["", "connections", "idle s", "live", "idle", "freed by eviction", "proxy live", "proxy idle"],
        mem
          .filter((x): x is [string, IdleMemory] => x[1] !== null)
          .map(([label, m]) => {
            const w = perConnection(m, "relay");
            const px = perConnection(m, "proxy");
            return [label, String(m.connections), fmt(m.idleMs / 1000, 0), fmt(w.live / 1024, 1), fmt(w.idle / 1024, 1), fmt(w.freedByEviction / 1024, 1), fmt(px.live / 1024, 1), fmt(px.idle / 1024, 1)];
          }),
      ),
    );
    const memJson = (m: IdleMemory | null): Record<string, unknown> | null => {
      if (!m) return null;
      const w = perConnection(m, "relay");
      const px = perConnection(m, "proxy");
      return {
        connections: m.connections,
        idle_ms: m.idleMs,
        workerd_bytes_per_conn_live: r3(w.live),
        workerd_bytes_per_conn_idle: r3(w.idle),
        workerd_bytes_per_conn_freed_by_eviction: r3(w.freedByEviction),
        proxy_bytes_per_conn_live: r3(px.live),
        proxy_bytes_per_conn_idle: r3(px.idle),
        rss: { before: m.before, connected: m.connected, idle: m.idle },
      };
    };
    Object.assign(json, {
      idle_connection_bytes: r3(c.relayMemory ? perConnection(c.relayMemory, "relay").idle : NaN),
      idle_memory: { relay: memJson(c.relayMemory), forward: memJson(fwd?.memory ?? null) },
    });
  }

  // The ratios in a line, after the tables (the targets, targets.ts, come after this section).
  if (Number.isFinite(latencyRatioWire)) {
    console.log(`\n(wire to wire, the clients' work left out: latency ratio ${fmt(latencyRatioWire, 2)}, overhead ratio ${fmt(overheadRatioWire, 2)})`);
  }
  if (s1 && b1) {
    const fb = f1 ? ratio(f1.samples, b1.samples) : NaN;
    console.log(`(the floors' own overhead over B at 1 queue: S ${fmt(ratio(s1.samples, b1.samples), 2)}, F ${fmt(fb, 2)})`);
  }
  if (f1 || fT) {
    console.log(
      `(the relay over floor F: p50 at 1 queue ${fmt(ratio(r1?.samples, f1?.samples), 2)}, wire to wire ${fmt(ratio(r1?.wireSamples, f1?.samples), 2)}; ` +
        `msgs/s at ${THROUGHPUT_RATIO_QUEUES} queues ${fmt(throughputOverFloor, 2)})`,
    );
  }
  return json;
}

/** The chart's series: the relay (with its wire-to-wire p50) and the baselines. */
export function chartSeries(relay: LoadPoint[], baselines: BaselineResult[]): ChartSeries[] {
  const pts = (ps: LoadPoint[], wire: boolean): ChartSeries["points"] =>
    ps.map((p) => ({
      queues: p.queues,
      p50: p50(p.samples),
      p99: p99(p.samples),
      msgsPerS: rate(p),
      ...(wire && p.wireSamples.length > 0 ? { wireP50: p50(p.wireSamples) } : {}),
    }));
  const colors: Record<BaselineKind, string> = { forward: "#1f77b4", topology: "#2ca02c", storage: "#9467bd", floor: "#ff7f0e", floorNoble: "#d62728", floorAuth: "#8c564b" };
  return [
    ...(relay.length > 0 ? [{ label: "relay", color: "#d62728", points: pts(relay, true) }] : []),
    ...baselines.map((b) => ({ label: BASELINES[b.kind].label, color: colors[b.kind], points: pts(b.points, false) })),
  ];
}
