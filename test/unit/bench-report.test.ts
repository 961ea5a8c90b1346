// The bench's targets table and cipher_speedup (bench/targets.ts, bench/report.ts): a bound is
// "at most" or "at least", a figure the run did not measure is neither met nor missed, and
// cipher_speedup appears only when both backends' microbenchmarks ran in workerd. And the cost of
// statistics (bench/stats-cost.ts, bench/counters.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { billed, settledCounters, type Counters } from "../../bench/counters.js";
import { cipherSpeedup } from "../../bench/report.js";
import { reportStatsCost, statsCosts, type StatsRound, type StatsRun, type StatsSetting } from "../../bench/stats-cost.js";
import { CIPHER_OPS } from "../../bench/workerd/cipher.js";
import { reportTargets, TARGETS } from "../../bench/targets.js";

describe("bench targets", () => {
  beforeEach(() => void vi.spyOn(console, "log").mockImplementation(() => {}));
  afterEach(() => vi.restoreAllMocks());

  it("judges at-most and at-least bounds on the JSON keys, and leaves missing figures open", () => {
    const { targets } = reportTargets({ relay_over_floor: 1.3, relay_throughput_over_floor: 0.8, handshake_rows_written: 1, resub_rows_written: 2 });
    expect(Object.keys(targets)).toEqual(Object.keys(TARGETS));
    expect(targets.relay_over_floor).toEqual({ value: 1.3, target: 1.25, bound: "at most", met: false });
    expect(targets.relay_throughput_over_floor).toEqual({ value: 0.8, target: 0.8, bound: "at least", met: true });
    expect(targets.handshake_rows_written).toMatchObject({ met: true });
    expect(targets.resub_rows_written).toMatchObject({ met: false });
    expect(targets.cipher_speedup).toEqual({ value: null, target: 1.8, bound: "at least", met: null });
  });

  it("cipher_speedup is @noble's workerd time over libsodium's, only when both were measured", () => {
    expect(cipherSpeedup(new Map())).toEqual({});
    expect(cipherSpeedup(new Map([[CIPHER_OPS.noble, 225]]))).toEqual({});
    expect(cipherSpeedup(new Map([[CIPHER_OPS.noble, 225], [CIPHER_OPS.libsodium, null]]))).toEqual({});
    expect(cipherSpeedup(new Map([[CIPHER_OPS.noble, 225], [CIPHER_OPS.libsodium, 110]]))).toEqual({ cipher_speedup: 2.0455 });
  });
});

// The statistics section (bench/stats-cost.ts): per connection and per message, split from two
// rounds (M and 2M messages a connection), STATS=off against on; counters read once settled.
const counters = (o: { queueCall: number; queueCreate: number; sessionPush: number; statsAdd: number; ws: number; rowsWritten: number; alarmWrites: number }): Counters => ({
  rpc: { queueCall: o.queueCall, queueCreate: o.queueCreate, sessionPush: o.sessionPush, identity: 0, indexLookup: 0, indexClaim: 0, indexRelease: 0, statsAdd: o.statsAdd, statsRead: 0 },
  wsMessagesIn: o.ws,
  alarms: 0,
  rowsRead: 0,
  rowsWritten: o.rowsWritten,
  alarmWrites: o.alarmWrites,
});

/** 20 connections, each: hello, NEW, SKEY (1 row each, one setAlarm), `msgs` messages (3 RPCs, 2 frames, 2 rows), and a flush when on. */
function run(stats: StatsSetting): StatsRun {
  const flush = stats === "off" ? 0 : 1;
  const round = (msgs: number): StatsRound => ({
    conns: 20,
    msgs,
    delta: counters({
      queueCall: 20 * (1 + 2 * msgs),
      queueCreate: 20,
      sessionPush: 20 * msgs,
      statsAdd: 20 * flush,
      ws: 20 * (3 + 2 * msgs),
      rowsWritten: 20 * (2 + 2 * msgs + flush),
      alarmWrites: 20,
    }),
  });
  return { stats, rounds: [round(10), round(20)] };
}

describe("bench statistics cost", () => {
  beforeEach(() => void vi.spyOn(console, "log").mockImplementation(() => {}));
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it("splits a run into per connection (upgrade included) and per message", () => {
    const off = statsCosts(run("off"));
    expect(off.requestsPerConn).toBeCloseTo(1 + 1 + 1 + 3 / 20, 9);
    expect(off.requestsPerMsg).toBeCloseTo(3.1, 9);
    expect(off.rowsPerConn).toBeCloseTo(3, 9);
    expect(off.rowsPerMsg).toBeCloseTo(2, 9);
    expect(off.flushesPerConn).toBe(0);
    expect(statsCosts(run("public")).requestsPerConn).toBeCloseTo(4.15, 9);
  });

  it("reports on and off, the difference, and the targets' keys; nothing without both relays", () => {
    expect(reportStatsCost([run("off")])).toEqual({});
    const json = reportStatsCost([run("off"), run("public")]);
    expect(json).toMatchObject({
      stats_conns: 20,
      stats_msgs_per_conn: [10, 20],
      stats_do_requests_per_conn_off: 3.15,
      stats_do_requests_per_conn_on: 4.15,
      stats_do_requests_per_msg_off: 3.1,
      stats_do_requests_per_msg_on: 3.1,
      stats_rows_per_conn_off: 3,
      stats_rows_per_conn_on: 4,
      stats_rows_per_msg_on: 2,
      stats_flushes_per_conn_on: 1,
      stats_extra_requests_per_conn: 1,
      stats_extra_rows_per_conn: 1,
      stats_extra_rows_per_msg: 0,
    });
    expect(Math.abs(json.stats_extra_requests_per_msg as number)).toBe(0);
    const { targets } = reportTargets(json);
    expect(targets.stats_extra_requests_per_conn).toEqual({ value: 1, target: 1, bound: "at most", met: true });
    expect(targets.stats_extra_requests_per_msg).toMatchObject({ target: 0, bound: "at most", met: true });
  });

  it("every counted RPC is a DO request, the statistics flush too", () => {
    const d = counters({ queueCall: 2, queueCreate: 1, sessionPush: 1, statsAdd: 1, ws: 20, rowsWritten: 3, alarmWrites: 1 });
    expect(billed({ ...d, rpc: { ...d.rpc, statsRead: 1 } })).toEqual({ rpcCalls: 6, doRequests: 7, rowsRead: 0, rowsWritten: 4 });
  });

  it("settledCounters reads until two readings agree", async () => {
    const adds = [1, 2, 3, 3, 4];
    let i = 0;
    vi.stubGlobal("fetch", async () => Response.json({ ...counters({ queueCall: 0, queueCreate: 0, sessionPush: 0, statsAdd: adds[i++]!, ws: 0, rowsWritten: 0, alarmWrites: 0 }) }));
    expect((await settledCounters("http://relay/debug/metrics", 1)).rpc.statsAdd).toBe(3);
    expect(i).toBe(4);
  });
});
