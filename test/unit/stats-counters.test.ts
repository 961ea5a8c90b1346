// The relay's statistics as pure functions (issue 14): a connection's counts packed for its socket
// attachment (src/server/statsCounters.ts), what each answered command counts, and what the admin
// API makes of the stored days (statsReport.ts: the JSON window and the Prometheus text). A
// connection's day rollover and last flush (sessionStats.ts) are tested in test/worker/stats.test.ts:
// that module is typed against workerd's WebSocket.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ServerResponse } from "../../src/protocol/commands.js";
import {
  add,
  addAll,
  COMMAND_KINDS,
  commandCounter,
  COUNTER_NAMES,
  countCommand,
  dayString,
  EVENT_COUNTERS,
  isCounterName,
  isEmpty,
  packCounts,
  unpackCounts,
  utcDay,
  type CounterName,
  type Counts,
} from "../../src/server/statsCounters.js";
import { counterView, dayWindow, DEFAULT_WINDOW_DAYS, prometheusText, PROMETHEUS_CONTENT_TYPE, statsReport } from "../../src/server/statsReport.js";
import { check } from "./fuzz-helpers.js";

const MAX = 2 ** 35 - 1;
/** What the packed counts may take of the 2,048-byte attachment (the brief's budget). */
const PACKED_BUDGET = 175;

/** Counts with zeros dropped, as unpackCounts returns them. */
const nonZero = (c: Counts): Counts => Object.fromEntries(Object.entries(c).filter(([, n]) => n !== 0)) as Counts;

/** Values that matter to LEB128: 0, one byte, the first two-byte value, 2^31, the largest kept. */
const EDGE_VALUES = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, MAX];

describe("packCounts / unpackCounts", () => {
  it("round-trip random counts (edge values included) without loss", () => {
    const value = fc.oneof(fc.constantFrom(...EDGE_VALUES), fc.integer({ min: 0, max: MAX }), fc.integer({ min: 0, max: 300 }));
    const counts = fc.dictionary(fc.constantFrom(...COUNTER_NAMES), value).map((d) => d as Counts);
    check(
      fc.property(counts, (c) => {
        expect(unpackCounts(packCounts(c))).toEqual(nonZero(c));
      }),
      500,
    );
  });

  it("every edge value in every position", () => {
    for (const v of EDGE_VALUES) {
      for (const name of COUNTER_NAMES) {
        const packed = packCounts({ [name]: v });
        expect(unpackCounts(packed), `${name}=${v}`).toEqual(v === 0 ? {} : { [name]: v });
      }
    }
  });

  it("takes one byte below 128, two from 128, five at 2^35-1", () => {
    expect(packCounts({ connections: 1 })).toEqual(Uint8Array.of(1));
    expect(packCounts({ connections: 127 })).toEqual(Uint8Array.of(127));
    expect(packCounts({ connections: 128 })).toEqual(Uint8Array.of(0x80, 0x01));
    expect(packCounts({ connections: 2 ** 31 }).length).toBe(5);
    expect(packCounts({ connections: MAX })).toEqual(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f));
  });

  it("clamps what it cannot keep: larger values to 2^35-1, negatives to 0, fractions down", () => {
    expect(unpackCounts(packCounts({ connections: MAX + 1 }))).toEqual({ connections: MAX });
    expect(unpackCounts(packCounts({ connections: 2 ** 50, messagesSent: Number.MAX_SAFE_INTEGER }))).toEqual({ connections: MAX, messagesSent: MAX });
    expect(unpackCounts(packCounts({ connections: -5, messagesSent: 3 }))).toEqual({ messagesSent: 3 });
    expect(unpackCounts(packCounts({ connections: 2.9 }))).toEqual({ connections: 2 });
  });

  it("drops trailing zeros: nothing counted packs to nothing, one leading counter to its own bytes", () => {
    expect(packCounts({})).toEqual(new Uint8Array(0));
    expect(packCounts({ connections: 0, "cmd.invalid": 0 })).toEqual(new Uint8Array(0));
    // connections is first: nothing after it is written.
    expect(packCounts({ connections: 1, "cmd.PING": 0 })).toEqual(Uint8Array.of(1));
    // A zero before the last non-zero counter is kept (one byte), zeros after it are not.
    expect(packCounts({ handshakesFailed: 1 })).toEqual(Uint8Array.of(0, 1));
    const last = COUNTER_NAMES[COUNTER_NAMES.length - 1]!;
    expect(packCounts({ [last]: 1 }).length).toBe(COUNTER_NAMES.length);
    expect(unpackCounts(new Uint8Array(0))).toEqual({});
    expect(unpackCounts(undefined)).toEqual({});
  });

  it("ignores bytes past the known counters (a newer relay's counters)", () => {
    const all = Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i + 1])) as Counts;
    const packed = packCounts(all);
    const longer = Uint8Array.from([...packed, 7, 0x80, 0x01, 0xff, 0x7f]);
    expect(unpackCounts(longer)).toEqual(all);
  });

  it("all counters at 2^35-1 pack into at most 175 bytes (34 counters × 5)", () => {
    expect(COUNTER_NAMES.length).toBe(EVENT_COUNTERS.length + COMMAND_KINDS.length);
    const full = Object.fromEntries(COUNTER_NAMES.map((n) => [n, MAX])) as Counts;
    const packed = packCounts(full);
    expect(packed.length).toBe(COUNTER_NAMES.length * 5);
    expect(packed.length).toBeLessThanOrEqual(PACKED_BUDGET);
    expect(unpackCounts(packed)).toEqual(full);
    // Clamped values take no more room.
    const over = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 2 ** 52])) as Counts;
    expect(packCounts(over).length).toBe(packed.length);
  });

  it("counter order is fixed: events first in README order, then commands by kind", () => {
    // Packed counts in live attachments depend on this order: never reorder, only append.
    expect(COUNTER_NAMES.slice(0, 9)).toEqual([
      "connections",
      "handshakesFailed",
      "queuesCreated",
      "queuesSecured",
      "queuesDeleted",
      "messagesSent",
      "messagesDelivered",
      "messagesExpired",
      "quotaRefusals",
    ]);
    expect(COUNTER_NAMES.slice(9)).toEqual(COMMAND_KINDS.map((k) => `cmd.${k}`));
    expect(COMMAND_KINDS[COMMAND_KINDS.length - 1]).toBe("invalid");
    expect(new Set(COUNTER_NAMES).size).toBe(COUNTER_NAMES.length);
  });
});

describe("counter names and helpers", () => {
  it("isCounterName knows exactly the counters", () => {
    for (const n of COUNTER_NAMES) expect(isCounterName(n), n).toBe(true);
    for (const n of ["", "cmd.", "cmd.FOO", "commands", "cmd.send", "Connections", "__proto__", "toString", "cmd.invalid "]) expect(isCounterName(n), n).toBe(false);
  });

  it("commandCounter: known tags by name, anything else (or null) is invalid", () => {
    for (const k of COMMAND_KINDS) if (k !== "invalid") expect(commandCounter(k)).toBe(`cmd.${k}`);
    expect(commandCounter(null)).toBe("cmd.invalid");
    expect(commandCounter("FOO")).toBe("cmd.invalid");
    expect(commandCounter("send")).toBe("cmd.invalid");
    // Server responses are not commands a client sends.
    expect(commandCounter("MSG")).toBe("cmd.invalid");
  });

  it("add, addAll, isEmpty", () => {
    const c: Counts = {};
    expect(isEmpty(c)).toBe(true);
    add(c, "connections", 1);
    add(c, "connections", 2);
    addAll(c, { connections: 1, "cmd.PING": 4 });
    expect(c).toEqual({ connections: 4, "cmd.PING": 4 });
    expect(isEmpty(c)).toBe(false);
    expect(isEmpty({ connections: 0 })).toBe(true);
  });

  it("utcDay and dayString: whole UTC days since the epoch", () => {
    expect(utcDay(0)).toBe(0);
    expect(dayString(0)).toBe("1970-01-01");
    const midnight = Date.UTC(2026, 10, 30);
    expect(utcDay(midnight)).toBe(utcDay(midnight + 86_399_999));
    expect(utcDay(midnight - 1)).toBe(utcDay(midnight) - 1);
    expect(dayString(utcDay(midnight))).toBe("2026-11-30");
    expect(dayString(utcDay(midnight - 1))).toBe("2026-11-29");
  });
});

describe("countCommand: what each answered command counts", () => {
  const OK: ServerResponse = { tag: "OK" };
  const IDS = { tag: "IDS", rcvId: new Uint8Array(24), sndId: new Uint8Array(24), srvDhKey: new Uint8Array(44), queueMode: "M", linkId: null, serviceId: null, serverNtfCreds: null } as const;
  const MSG: ServerResponse = { tag: "MSG", msgId: new Uint8Array(24), body: new Uint8Array(0) };
  const LNK: ServerResponse = { tag: "LNK", sndId: new Uint8Array(24), fixedData: new Uint8Array(0), userData: new Uint8Array(0) };
  const ERR = (code: string): ServerResponse => ({ tag: "ERR", code }) as ServerResponse;
  const counted = (tag: string | null, r: ServerResponse): Counts => {
    const c: Counts = {};
    countCommand(c, tag, r);
    return c;
  };

  const cases: [string | null, ServerResponse, Counts][] = [
    // Events, each from its command and answer only.
    ["NEW", IDS, { "cmd.NEW": 1, queuesCreated: 1 }],
    ["NEW", ERR("AUTH"), { "cmd.NEW": 1 }],
    ["NEW", ERR("QUOTA"), { "cmd.NEW": 1 }],
    ["KEY", OK, { "cmd.KEY": 1, queuesSecured: 1 }],
    ["KEY", ERR("AUTH"), { "cmd.KEY": 1 }],
    ["SKEY", OK, { "cmd.SKEY": 1, queuesSecured: 1 }],
    ["SKEY", ERR("AUTH"), { "cmd.SKEY": 1 }],
    ["LKEY", LNK, { "cmd.LKEY": 1, queuesSecured: 1 }],
    ["LKEY", OK, { "cmd.LKEY": 1 }],
    ["LKEY", ERR("AUTH"), { "cmd.LKEY": 1 }],
    ["DEL", OK, { "cmd.DEL": 1, queuesDeleted: 1 }],
    ["DEL", ERR("AUTH"), { "cmd.DEL": 1 }],
    ["DEL", ERR("INTERNAL"), { "cmd.DEL": 1 }],
    ["SEND", OK, { "cmd.SEND": 1, messagesSent: 1 }],
    ["SEND", ERR("QUOTA"), { "cmd.SEND": 1, quotaRefusals: 1 }],
    ["SEND", ERR("AUTH"), { "cmd.SEND": 1 }],
    ["SEND", ERR("LARGE_MSG"), { "cmd.SEND": 1 }],
    ["SEND", ERR("CMD NO_ENTITY"), { "cmd.SEND": 1 }],
    ["SEND", ERR("BLOCKED reason=spam"), { "cmd.SEND": 1 }],
    ["ACK", OK, { "cmd.ACK": 1, messagesDelivered: 1 }],
    ["ACK", MSG, { "cmd.ACK": 1, messagesDelivered: 1 }],
    ["ACK", ERR("NO_MSG"), { "cmd.ACK": 1 }],
    ["ACK", ERR("AUTH"), { "cmd.ACK": 1 }],
    // Commands that mean no event, whatever their answer.
    ["SUB", { tag: "SOK", serviceId: null }, { "cmd.SUB": 1 }],
    ["SUB", MSG, { "cmd.SUB": 1 }],
    ["GET", MSG, { "cmd.GET": 1 }],
    ["GET", OK, { "cmd.GET": 1 }],
    ["OFF", OK, { "cmd.OFF": 1 }],
    ["QUE", { tag: "INFO", json: "{}" }, { "cmd.QUE": 1 }],
    ["PING", { tag: "PONG" }, { "cmd.PING": 1 }],
    ["RKEY", OK, { "cmd.RKEY": 1 }],
    ["LSET", OK, { "cmd.LSET": 1 }],
    ["LDEL", OK, { "cmd.LDEL": 1 }],
    ["LGET", LNK, { "cmd.LGET": 1 }],
    ["PRXY", ERR("PROXY BASIC_AUTH"), { "cmd.PRXY": 1 }],
    ["PFWD", ERR("PROXY NO_SESSION"), { "cmd.PFWD": 1 }],
    ["NKEY", ERR("CMD PROHIBITED"), { "cmd.NKEY": 1 }],
    ["NDEL", ERR("CMD PROHIBITED"), { "cmd.NDEL": 1 }],
    ["NSUB", ERR("CMD PROHIBITED"), { "cmd.NSUB": 1 }],
    ["NSUBS", ERR("CMD PROHIBITED"), { "cmd.NSUBS": 1 }],
    ["SUBS", ERR("CMD PROHIBITED"), { "cmd.SUBS": 1 }],
    ["RFWD", ERR("CMD PROHIBITED"), { "cmd.RFWD": 1 }],
    // Not parsed, or a tag this relay does not know: invalid, and never an event.
    [null, ERR("BLOCK"), { "cmd.invalid": 1 }],
    [null, ERR("CMD UNKNOWN"), { "cmd.invalid": 1 }],
    [null, OK, { "cmd.invalid": 1 }],
    ["FOO", OK, { "cmd.invalid": 1 }],
  ];

  it.each(cases.map(([tag, r, want]) => [`${tag ?? "null"} → ${r.tag === "ERR" ? `ERR ${r.code}` : r.tag}`, tag, r, want] as const))("%s", (_name, tag, r, want) => {
    expect(counted(tag, r)).toEqual(want);
  });

  it("covers every command kind", () => {
    const kinds = new Set(cases.map(([tag]) => commandCounter(tag)));
    for (const k of COMMAND_KINDS) expect(kinds.has(`cmd.${k}`), k).toBe(true);
  });

  it("every event counter but connections, handshakesFailed and messagesExpired comes from some command", () => {
    const events = new Set<string>();
    for (const [tag, r] of cases) for (const n of Object.keys(counted(tag, r))) if (!n.startsWith("cmd.")) events.add(n);
    expect([...events].sort()).toEqual(EVENT_COUNTERS.filter((n) => !["connections", "handshakesFailed", "messagesExpired"].includes(n)).sort());
  });

  it("adds up over a block", () => {
    const c: Counts = {};
    countCommand(c, "SEND", OK);
    countCommand(c, "SEND", OK);
    countCommand(c, "SEND", ERR("QUOTA"));
    countCommand(c, "PING", { tag: "PONG" });
    expect(c).toEqual({ "cmd.SEND": 3, messagesSent: 2, quotaRefusals: 1, "cmd.PING": 1 });
  });
});

describe("statsReport", () => {
  const TODAY = utcDay(Date.UTC(2026, 10, 30));
  const stored = [
    { day: TODAY - 40, counts: { connections: 2, "cmd.NEW": 1, queuesCreated: 1 } as Counts },
    { day: TODAY - 6, counts: { connections: 3, messagesSent: 5, "cmd.SEND": 6, quotaRefusals: 1 } as Counts },
    { day: TODAY, counts: { connections: 1, "cmd.invalid": 2, messagesExpired: 4 } as Counts },
  ];

  it("counterView shows every event counter and every command kind, zeros included", () => {
    const v = counterView({ connections: 2, "cmd.PING": 1 });
    expect(Object.keys(v).sort()).toEqual([...EVENT_COUNTERS, "commands"].sort());
    expect(Object.keys(v.commands)).toEqual([...COMMAND_KINDS]);
    expect(v.connections).toBe(2);
    expect(v.messagesSent).toBe(0);
    expect(v.commands.PING).toBe(1);
    expect(v.commands.invalid).toBe(0);
  });

  it("dayWindow: windowDays days ending today, oldest first, empty days filled", () => {
    const w = dayWindow(stored, TODAY, 7);
    expect(w.map((d) => d.day)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => TODAY - 6 + i));
    expect(w[0]!.counts).toEqual(stored[1]!.counts);
    expect(w[6]!.counts).toEqual(stored[2]!.counts);
    for (const d of w.slice(1, 6)) expect(d.counts).toEqual({});
    expect(dayWindow([], TODAY, 1)).toEqual([{ day: TODAY, counts: {} }]);
    expect(dayWindow(stored, TODAY, 366)).toHaveLength(366);
  });

  it("totals everything stored (days outside the window too), since is the first day, every window day present", () => {
    const r = statsReport(stored, "public", TODAY);
    expect(r.mode).toBe("public");
    expect(r.since).toBe(dayString(TODAY - 40));
    expect(r.days).toHaveLength(DEFAULT_WINDOW_DAYS);
    expect(DEFAULT_WINDOW_DAYS).toBe(30);
    expect(r.days[r.days.length - 1]!.day).toBe("2026-11-30");
    expect(r.days[0]!.day).toBe(dayString(TODAY - 29));
    const expectedTotal: Counts = {};
    for (const d of stored) addAll(expectedTotal, d.counts);
    expect(r.total).toEqual(counterView(expectedTotal));
    expect(r.total.connections).toBe(6);
    expect(r.total.commands.SEND).toBe(6);
    expect(r.total.commands.invalid).toBe(2);
    // The window's days sum to the stored days inside it.
    const windowSum: Counts = {};
    for (const d of stored.slice(1)) addAll(windowSum, d.counts);
    const byDay = Object.fromEntries(r.days.map((d) => [d.day, d]));
    expect(byDay[dayString(TODAY - 6)]).toEqual({ day: dayString(TODAY - 6), ...counterView(stored[1]!.counts) });
    const sum = (k: (typeof EVENT_COUNTERS)[number]): number => r.days.reduce((a, d) => a + d[k], 0);
    for (const k of EVENT_COUNTERS) expect(sum(k), k).toBe(windowSum[k] ?? 0);
    expect(statsReport(stored, "private", TODAY, 1).days).toEqual([{ day: "2026-11-30", ...counterView(stored[2]!.counts) }]);
  });

  it("nothing stored: since null, zeros, every day present", () => {
    const r = statsReport([], "off", TODAY, 3);
    expect(r).toEqual({
      mode: "off",
      since: null,
      total: counterView({}),
      days: [2, 1, 0].map((i) => ({ day: dayString(TODAY - i), ...counterView({}) })),
    });
  });
});

describe("prometheusText", () => {
  const counts: Counts = Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, (i + 1) * 11])) as Counts;
  const report = statsReport([{ day: 100, counts }], "public", 100, 1);
  const text = prometheusText(report);
  const lines = text.split("\n");

  it("ends with a newline, has no blank line, and every sample is `name[{labels}] integer`", () => {
    expect(text.endsWith("\n")).toBe(true);
    expect(lines.pop()).toBe("");
    for (const l of lines) {
      expect(l, l).not.toBe("");
      if (l.startsWith("#")) expect(l, l).toMatch(/^# (HELP|TYPE) smp_relay_[a-z_]+ .+$/);
      else expect(l, l).toMatch(/^smp_relay_[a-z_]+(\{command="[A-Za-z]+"\})? [0-9]+$/);
    }
  });

  it("one HELP, one TYPE counter and one sample per event counter, snake_case with _total", () => {
    const names: Record<string, string> = {
      connections: "smp_relay_connections_total",
      handshakesFailed: "smp_relay_handshakes_failed_total",
      queuesCreated: "smp_relay_queues_created_total",
      queuesSecured: "smp_relay_queues_secured_total",
      queuesDeleted: "smp_relay_queues_deleted_total",
      messagesSent: "smp_relay_messages_sent_total",
      messagesDelivered: "smp_relay_messages_delivered_total",
      messagesExpired: "smp_relay_messages_expired_total",
      quotaRefusals: "smp_relay_quota_refusals_total",
    };
    expect(Object.keys(names)).toEqual([...EVENT_COUNTERS]);
    for (const [counter, metric] of Object.entries(names)) {
      const at = lines.indexOf(`# TYPE ${metric} counter`);
      expect(at, metric).toBeGreaterThan(0);
      expect(lines[at - 1]).toMatch(new RegExp(`^# HELP ${metric} \\S`));
      expect(lines[at + 1]).toBe(`${metric} ${counts[counter as CounterName]}`);
      expect(lines.filter((l) => l.startsWith(`${metric} `))).toHaveLength(1);
    }
  });

  it("commands_total: one HELP and TYPE, one sample per command kind, labelled", () => {
    expect(lines.filter((l) => l === "# TYPE smp_relay_commands_total counter")).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("# HELP smp_relay_commands_total "))).toHaveLength(1);
    const samples = lines.filter((l) => l.startsWith("smp_relay_commands_total{"));
    expect(samples).toEqual(COMMAND_KINDS.map((k) => `smp_relay_commands_total{command="${k}"} ${counts[`cmd.${k}`]}`));
    // The TYPE line comes before its samples.
    expect(lines.indexOf("# TYPE smp_relay_commands_total counter")).toBeLessThan(lines.indexOf(samples[0]!));
  });

  it("zeros are written, not left out; the content type is the 0.0.4 text format", () => {
    const empty = prometheusText(statsReport([], "public", 100, 1)).split("\n");
    expect(empty).toContain("smp_relay_connections_total 0");
    expect(empty).toContain('smp_relay_commands_total{command="invalid"} 0');
    expect(PROMETHEUS_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
  });
});
