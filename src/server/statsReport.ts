// What the admin API and the operator page make of the stored statistics (stats.ts): the JSON of
// GET /admin/stats, the Prometheus text of GET /admin/metrics, and a window of days for the chart.
// Pure functions of the stored days and today's date.
import type { StatsMode } from "./config.js";
import { addAll, COMMAND_KINDS, dayString, EVENT_COUNTERS, type CommandKind, type Counts, type DayCounts, type EventCounter } from "./statsCounters.js";

/** Counters as the API shows them: every event counter, and commands by kind (all kinds, zeros included). */
export type CounterView = Record<EventCounter, number> & { commands: Record<CommandKind, number> };

/** GET /admin/stats. Days are "YYYY-MM-DD" (UTC), oldest first, every day of the window present. */
export interface StatsReport {
  /** STATS as configured: "off" means nothing new is counted (what was counted before stays). */
  mode: StatsMode;
  /** The first UTC day anything was counted, or null. */
  since: string | null;
  /** Everything counted since `since`. */
  total: CounterView;
  days: (CounterView & { day: string })[];
}

/** Days in the report and on the chart unless asked otherwise. */
export const DEFAULT_WINDOW_DAYS = 30;

export function counterView(c: Counts): CounterView {
  const events = Object.fromEntries(EVENT_COUNTERS.map((n) => [n, c[n] ?? 0])) as Record<EventCounter, number>;
  const commands = Object.fromEntries(COMMAND_KINDS.map((k) => [k, c[`cmd.${k}`] ?? 0])) as Record<CommandKind, number>;
  return { ...events, commands };
}

/** The `windowDays` days ending with `today` (utcDays), oldest first, each with its counts ({} when none). */
export function dayWindow(stored: readonly DayCounts[], today: number, windowDays: number): DayCounts[] {
  const byDay = new Map(stored.map((d) => [d.day, d.counts]));
  return Array.from({ length: windowDays }, (_, i) => {
    const day = today - windowDays + 1 + i;
    return { day, counts: byDay.get(day) ?? {} };
  });
}

export function statsReport(stored: readonly DayCounts[], mode: StatsMode, today: number, windowDays = DEFAULT_WINDOW_DAYS): StatsReport {
  const total: Counts = {};
  for (const d of stored) addAll(total, d.counts);
  return {
    mode,
    since: stored.length === 0 ? null : dayString(stored[0]!.day),
    total: counterView(total),
    days: dayWindow(stored, today, windowDays).map((d) => ({ day: dayString(d.day), ...counterView(d.counts) })),
  };
}

const HELP: Record<EventCounter, string> = {
  connections: "WebSocket connections accepted.",
  handshakesFailed: "Connections that ended before their handshake completed.",
  queuesCreated: "Queues created (NEW answered IDS).",
  queuesSecured: "Queues secured (KEY or SKEY answered OK, LKEY answered LNK).",
  queuesDeleted: "Queues deleted by their recipient (DEL) or the operator.",
  messagesSent: "Messages accepted (SEND answered OK).",
  messagesDelivered: "Messages received and acknowledged by their recipient (ACK).",
  messagesExpired: "Messages deleted unread when their time to live passed.",
  quotaRefusals: "SEND refused because the queue was full (ERR QUOTA).",
};

/** snake_case of a camelCase counter name. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The Prometheus content type of GET /admin/metrics. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** GET /admin/metrics: the totals of `report` as Prometheus counters (text exposition format 0.0.4). */
export function prometheusText(report: StatsReport): string {
  const lines: string[] = [];
  for (const name of EVENT_COUNTERS) {
    const metric = `smp_relay_${snake(name)}_total`;
    lines.push(`# HELP ${metric} ${HELP[name]}`, `# TYPE ${metric} counter`, `${metric} ${report.total[name]}`);
  }
  lines.push("# HELP smp_relay_commands_total Commands handled, by kind (invalid: did not parse).", "# TYPE smp_relay_commands_total counter");
  for (const kind of COMMAND_KINDS) lines.push(`smp_relay_commands_total{command="${kind}"} ${report.total.commands[kind]}`);
  return lines.join("\n") + "\n";
}
