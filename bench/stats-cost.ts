// What the relay's statistics cost (issue 14), from its counters (counters.ts): the same
// connections on a relay with STATS=off and on one with STATS=public (side-runs.ts starts them).
// Each connection handshakes, creates a queue, secures it as its own sender (SKEY), sends itself
// messages one at a time (SEND, the MSG pushed, ACK) and closes; the relay flushes the connection's
// counts to the Stats object when it ends. Two rounds per relay, M and 2M messages a connection,
// tell what grows with messages (per message: the difference over M) from what does not (per
// connection: the rest). The counters are read once they have settled, flushes included.
import type { SMPClient } from "../src/client/client.js";
import { billed, counterDelta, countersReset, settledCounters, type Counters } from "./counters.js";
import { fmt, r3, table } from "./format.js";
import { makeQueues, pairOf, steadyStream } from "./messages.js";
import { UPGRADE_REQUESTS } from "./report-connections.js";

/** The two settings compared: statistics off, and on (public and private flush the same way). */
export const STATS_SETTINGS = ["off", "public"] as const;
export type StatsSetting = (typeof STATS_SETTINGS)[number];

/** One round on one relay: `conns` connections of `msgs` messages each, and what the counters moved. */
export interface StatsRound {
  conns: number;
  msgs: number;
  delta: Counters;
}

/** A relay's rounds: M messages a connection, then 2M. */
export interface StatsRun {
  stats: StatsSetting;
  rounds: [StatsRound, StatsRound];
}

/** One connection's life: handshake, NEW + SKEY, `msgs` messages to itself, close. */
async function oneConnection(open: () => Promise<SMPClient>, msgs: number, size: number): Promise<void> {
  const c = await open();
  try {
    const p = pairOf(c, c);
    const [q] = await makeQueues(p, 1, true);
    const r = await steadyStream(p, q!, msgs, size, performance.now() + 30_000, []);
    if (r.completed < msgs) throw new Error(`stats cost: ${r.completed} of ${msgs} messages arrived`);
  } finally {
    c.close();
  }
}

/**
 * The counters once they have settled and, with statistics on, once the Stats object has seen
 * `flushes` more adds than in `before` (a flush follows its connection's close), up to 10 s.
 */
async function afterFlushes(url: string, before: Counters, flushes: number): Promise<Counters> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const after = await settledCounters(url, 250);
    if (after.rpc.statsAdd - before.rpc.statsAdd >= flushes || performance.now() > deadline) return after;
  }
}

async function round(url: string, open: () => Promise<SMPClient>, stats: StatsSetting, conns: number, msgs: number, size: number): Promise<StatsRound> {
  const before = await settledCounters(url, 250);
  for (let i = 0; i < conns; i++) await oneConnection(open, msgs, size);
  const after = await afterFlushes(url, before, stats === "off" ? 0 : conns);
  const delta = counterDelta(before, after);
  if (countersReset(delta)) throw new Error("stats cost: the relay's counters went backwards (a new isolate: reload or restart)");
  return { conns, msgs, delta };
}

/** The measurement on one relay (started with STATS=`stats`): a warm-up, then the two rounds. */
export async function statsRun(
  stats: StatsSetting,
  metricsUrl: string,
  open: () => Promise<SMPClient>,
  conns: number,
  msgs: number,
  size: number,
  progress: (line: string) => void,
): Promise<StatsRun> {
  // Warm: the isolate, the code paths, the Stats object and its table (CREATE TABLE is not counted).
  for (let i = 0; i < 5; i++) await oneConnection(open, 2, size);
  progress(`  STATS=${stats}: ${conns} connections × ${msgs} messages...`);
  const a = await round(metricsUrl, open, stats, conns, msgs, size);
  progress(` × ${2 * msgs}...`);
  const b = await round(metricsUrl, open, stats, conns, 2 * msgs, size);
  progress(" done\n");
  return { stats, rounds: [a, b] };
}

/** Per connection (what does not grow with messages) and per message (what does). */
export interface StatsCosts {
  requestsPerConn: number;
  requestsPerMsg: number;
  rowsPerConn: number;
  rowsPerMsg: number;
  /** Stats.add calls per connection. */
  flushesPerConn: number;
}

/**
 * Splits a run's figures: per message is the growth per connection from the first round to the
 * second over the messages added; per connection is the first round's per connection less its
 * messages. DO requests as billed (counters.ts) plus each connection's upgrade, which no counter sees.
 */
export function statsCosts(run: StatsRun): StatsCosts {
  const [a, b] = run.rounds;
  const perConn = (r: StatsRound, f: (d: Counters) => number): number => f(r.delta) / Math.max(1, r.conns);
  const split = (f: (d: Counters) => number): [number, number] => {
    const perMsg = b.msgs === a.msgs ? NaN : (perConn(b, f) - perConn(a, f)) / (b.msgs - a.msgs);
    return [perConn(a, f) - a.msgs * perMsg, perMsg];
  };
  const [countedPerConn, requestsPerMsg] = split((d) => billed(d).doRequests);
  const requestsPerConn = countedPerConn + UPGRADE_REQUESTS;
  const [rowsPerConn, rowsPerMsg] = split((d) => billed(d).rowsWritten);
  const flushesPerConn = (a.delta.rpc.statsAdd + b.delta.rpc.statsAdd) / Math.max(1, a.conns + b.conns);
  return { requestsPerConn, requestsPerMsg, rowsPerConn, rowsPerMsg, flushesPerConn };
}

/** Prints the section and returns its JSON keys (stats_*); nothing unless both settings ran. */
export function reportStatsCost(runs: StatsRun[]): Record<string, unknown> {
  const off = runs.find((r) => r.stats === "off");
  const on = runs.find((r) => r.stats !== "off");
  if (!off || !on) return {};
  const c = { off: statsCosts(off), on: statsCosts(on) };
  const [a, b] = on.rounds;
  const extra = {
    requestsPerConn: c.on.requestsPerConn - c.off.requestsPerConn,
    requestsPerMsg: c.on.requestsPerMsg - c.off.requestsPerMsg,
    rowsPerConn: c.on.rowsPerConn - c.off.rowsPerConn,
    rowsPerMsg: c.on.rowsPerMsg - c.off.rowsPerMsg,
  };
  console.log(
    `\nStatistics (issue 14): ${a.conns} connections, each a handshake, NEW + SKEY, ${a.msgs} messages to itself (SEND, MSG, ACK) and its close;` +
      ` then ${b.conns} of ${b.msgs} messages; on a relay with STATS=off and one with STATS=${on.stats}\n`,
  );
  const row = (label: string, x: Omit<StatsCosts, "flushesPerConn"> & { flushesPerConn?: number }): string[] => [
    label,
    fmt(x.requestsPerConn, 3),
    fmt(x.requestsPerMsg, 3),
    fmt(x.rowsPerConn, 3),
    fmt(x.rowsPerMsg, 3),
    fmt(x.flushesPerConn, 3),
  ];
  console.log(
    table(
      ["", "DO requests / conn", "DO requests / msg", "rows written / conn", "rows written / msg", "Stats.add / conn"],
      [row("STATS=off", c.off), row(`STATS=${on.stats}`, c.on), row("statistics' cost", extra)],
    ),
  );
  console.log(`(per connection: what does not grow with its messages, its upgrade (${UPGRADE_REQUESTS} request, not counted by the relay) included;`);
  console.log(" per message: the growth from the first round to the second over the messages added; counters read once settled)");
  return {
    stats_conns: a.conns,
    stats_msgs_per_conn: [a.msgs, b.msgs],
    stats_do_requests_per_conn_off: r3(c.off.requestsPerConn),
    stats_do_requests_per_conn_on: r3(c.on.requestsPerConn),
    stats_do_requests_per_msg_off: r3(c.off.requestsPerMsg),
    stats_do_requests_per_msg_on: r3(c.on.requestsPerMsg),
    stats_rows_per_conn_off: r3(c.off.rowsPerConn),
    stats_rows_per_conn_on: r3(c.on.rowsPerConn),
    stats_rows_per_msg_off: r3(c.off.rowsPerMsg),
    stats_rows_per_msg_on: r3(c.on.rowsPerMsg),
    stats_flushes_per_conn_on: r3(c.on.flushesPerConn),
    stats_extra_requests_per_conn: r3(extra.requestsPerConn),
    stats_extra_requests_per_msg: r3(extra.requestsPerMsg),
    stats_extra_rows_per_conn: r3(extra.rowsPerConn),
    stats_extra_rows_per_msg: r3(extra.rowsPerMsg),
    stats_counters: Object.fromEntries(runs.map((r) => [r.stats, r.rounds.map((x) => ({ conns: x.conns, msgs: x.msgs, counters: x.delta }))])),
  };
}
