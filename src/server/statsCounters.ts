// The relay's statistics (issue 14): which aggregate counters exist and how one connection's
// counts are kept between frames. Pure: no platform APIs, so the Session, the Queue, the Stats
// object and the tests share it.
//
// Only counts, per UTC day: no ids, no addresses, no times finer than a day, nothing that ties a
// sender to a recipient. README, "Statistics", lists every counter; nothing else is counted.
import type { ServerResponse } from "../protocol/commands.js";

/** The event counters, in a fixed order (a connection's packed counts use it; never reorder, only append). */
export const EVENT_COUNTERS = [
  /** WebSocket connections the relay accepted (each one's Session object counts itself once). */
  "connections",
  /** Connections that ended before their handshake completed (bad hello, deadline, client left). */
  "handshakesFailed",
  /** NEW answered IDS. */
  "queuesCreated",
  /** KEY or SKEY answered OK, LKEY answered LNK. */
  "queuesSecured",
  /** DEL answered OK, and queues deleted by the operator (admin API). */
  "queuesDeleted",
  /** SEND answered OK. */
  "messagesSent",
  /** ACK answered OK or with the next MSG: a message the recipient received and acknowledged. */
  "messagesDelivered",
  /** Messages a Queue object deleted because their MESSAGE_TTL_SECONDS passed. */
  "messagesExpired",
  /** SEND answered ERR QUOTA because the queue was full (QUEUE_QUOTA). */
  "quotaRefusals",
] as const;
export type EventCounter = (typeof EVENT_COUNTERS)[number];

/**
 * Command kinds counted by "commands" (every transmission of a block that was handled, whatever
 * its answer). "invalid": a transmission or command that did not parse. Blocks refused whole for
 * backpressure (MAX_PENDING_BLOCKS) are not counted.
 */
export const COMMAND_KINDS = [
  "NEW", "KEY", "SKEY", "RKEY", "SUB", "GET", "ACK", "OFF", "DEL", "QUE", "SEND", "PING",
  "LSET", "LDEL", "LKEY", "LGET", "PRXY", "PFWD", "NKEY", "NDEL", "NSUB", "NSUBS", "SUBS", "RFWD",
  "invalid",
] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/** A counter's name: an event counter, or `cmd.<KIND>` for commands by kind. */
export type CounterName = EventCounter | `cmd.${CommandKind}`;

/** Every counter name, in packing order. */
export const COUNTER_NAMES: readonly CounterName[] = [...EVENT_COUNTERS, ...COMMAND_KINDS.map((k) => `cmd.${k}` as const)];
const INDEX = new Map<string, number>(COUNTER_NAMES.map((n, i) => [n, i]));
const COMMAND_KIND_SET = new Set<string>(COMMAND_KINDS);

/** Counts by counter name; absent names are 0. What flushes carry and the Stats object stores per day. */
export type Counts = Partial<Record<CounterName, number>>;

/** One day's counters as the Stats object stores them: `day` is a utcDay. */
export interface DayCounts {
  day: number;
  counts: Counts;
}

/** Whether `name` is a counter this relay knows (the Stats object refuses others). */
export function isCounterName(name: string): name is CounterName {
  return INDEX.has(name);
}

/** The UTC day of `ms` (ms since the epoch) as whole days since 1970-01-01. */
export function utcDay(ms: number): number {
  return Math.floor(ms / 86_400_000);
}

/** "2026-11-30" for a utcDay. */
export function dayString(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** The counter of a command's kind ("invalid" for a tag this relay does not know). */
export function commandCounter(tag: string | null): CounterName {
  return `cmd.${tag !== null && COMMAND_KIND_SET.has(tag) ? (tag as CommandKind) : "invalid"}`;
}

/**
 * What one handled command adds: its kind, and the event its answer means, if any (see
 * EVENT_COUNTERS). `tag` is null for a transmission that did not parse.
 */
export function countCommand(into: Counts, tag: string | null, response: ServerResponse): void {
  add(into, commandCounter(tag), 1);
  const event = eventOf(tag, response);
  if (event !== null) add(into, event, 1);
}

function eventOf(tag: string | null, r: ServerResponse): EventCounter | null {
  switch (tag) {
    case "NEW":
      return r.tag === "IDS" ? "queuesCreated" : null;
    case "KEY":
    case "SKEY":
      return r.tag === "OK" ? "queuesSecured" : null;
    case "LKEY":
      return r.tag === "LNK" ? "queuesSecured" : null;
    case "DEL":
      return r.tag === "OK" ? "queuesDeleted" : null;
    case "SEND":
      if (r.tag === "OK") return "messagesSent";
      return r.tag === "ERR" && r.code === "QUOTA" ? "quotaRefusals" : null;
    case "ACK":
      return r.tag === "OK" || r.tag === "MSG" ? "messagesDelivered" : null;
    default:
      return null;
  }
}

/** Adds `n` to one counter. */
export function add(into: Counts, name: CounterName, n: number): void {
  into[name] = (into[name] ?? 0) + n;
}

/** Adds every counter of `from` into `into`. */
export function addAll(into: Counts, from: Counts): void {
  for (const [name, n] of Object.entries(from) as [CounterName, number][]) add(into, name, n);
}

/** True when nothing was counted. */
export function isEmpty(c: Counts): boolean {
  return Object.values(c).every((n) => n === 0);
}

/**
 * A connection's counts packed for its socket attachment (which holds at most 2,048 bytes): one
 * unsigned LEB128 varint per counter in COUNTER_NAMES order, trailing zeros dropped. A connection
 * that sent a few commands packs into a dozen bytes; 34 counters of a billion each, 170.
 */
export function packCounts(c: Counts): Uint8Array {
  const values = COUNTER_NAMES.map((n) => c[n] ?? 0);
  while (values.length > 0 && values[values.length - 1] === 0) values.pop();
  const out: number[] = [];
  for (let v of values) {
    v = Math.max(0, Math.min(Math.floor(v), 2 ** 35 - 1));
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
  }
  return Uint8Array.from(out);
}

/** The inverse of packCounts; bytes past the known counters (a newer relay's) are ignored. */
export function unpackCounts(packed: Uint8Array | undefined): Counts {
  const c: Counts = {};
  if (packed === undefined) return c;
  let i = 0;
  for (let at = 0; at < packed.length && i < COUNTER_NAMES.length; i++) {
    let v = 0;
    let scale = 1;
    let b: number;
    do {
      b = packed[at++] ?? 0;
      v += (b & 0x7f) * scale;
      scale *= 0x80;
    } while (b & 0x80 && at < packed.length);
    if (v > 0) c[COUNTER_NAMES[i]!] = v;
  }
  return c;
}
