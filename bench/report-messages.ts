// The messages section of the bench's report: per delivered message, what the relay's counters
// say it cost (DO requests, rows read and written), its latency and CPU, where the counts go, and
// what that allows on Cloudflare's free plan; and its JSON keys.
import { fmt, percentile, r3, table } from "./format.js";
import { perOp } from "./measure.js";
import type { MsgPhase } from "./message-phases.js";
import { billed, counterDelta, perMessage, type Costs, type Counters } from "./counters.js";

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

/** The header of a table of counter deltas (totals), the count's column named `ops`. */
export const rawCounterHeader = (ops: string): string[] => ["", ops, "Queue.call", "Session.push", "Queue.create", "Identity", "Stats.add", "ws msgs in", "alarms", "rows read", "rows written", "setAlarm"];

/** A row of that table: what the counters saw over a window of `n` operations. */
export const rawCounterRow = (label: string, d: Counters, n: number): string[] => [
  label,
  String(n),
  String(d.rpc.queueCall),
  String(d.rpc.sessionPush),
  String(d.rpc.queueCreate),
  String(d.rpc.identity),
  String(d.rpc.statsAdd),
  String(d.wsMessagesIn),
  String(d.alarms),
  String(d.rowsRead),
  String(d.rowsWritten),
  String(d.alarmWrites),
];

/** Prints the messages section and returns its JSON keys. */
export function reportMessages(msgPhases: MsgPhase[]): Record<string, unknown> {
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
  const rows: string[][] = [];
  for (const p of msgPhases) {
    const name = p.name.replace(/^messages: /, "");
    rows.push(rawCounterRow(name, delta(p), p.completed));
    if (p.afterSends) {
      rows.push(rawCounterRow("  … SENDs (no subscriber)", counterDelta(p.counters!.before, p.afterSends), p.sent));
      rows.push(rawCounterRow("  … SUB + drain with ACKs", counterDelta(p.afterSends, p.counters!.after), p.completed));
    }
  }
  console.log(
    table(rawCounterHeader("msgs"), rows),
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
