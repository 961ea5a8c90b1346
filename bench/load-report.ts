// What `npm run load` takes and reports (bench/load-run.ts runs it): the options, the progress
// lines, the result, and the summary as printed.
import type { DeliveryReport } from "../test/helpers/delivery-check.js";
import { fmt } from "./format.js";

export interface LoadOptions {
  /** Connections in all, at least 2: recipients and senders (see `senders`). */
  connections: number;
  /** Sender connections, 1 to connections − 1 (default: half of `connections`, rounded down). */
  senders?: number;
  queues: number;
  /** Messages per queue. */
  messages: number;
  /** ws:// or wss:// URL of a running relay; none: start a local one (wrangler dev, 127.0.0.1). */
  url?: string;
  /** Its smp:// address; by default read from GET /health next to `url`. */
  address?: string;
  /** The relay's queue-creation password (QUEUE_PASSWORD), if it has one. */
  password?: string;
  /** Time limit of the whole run (connecting and creating queues included), ms. */
  timeoutMs: number;
  /** SEND body size in bytes (at least 32). */
  msgBytes?: number;
  /**
   * Commands in flight per connection at most, in the load generator (default 32). The client
   * library keeps its own bound on blocks in flight (`blocksInFlight`), so this may exceed the
   * relay's MAX_PENDING_BLOCKS: what it does not send at once waits in the client.
   */
  window?: number;
  /** Blocks in flight per connection at most, the client's maxBlocksInFlight (default 8). */
  blocksInFlight?: number;
  /** How long a command waits for its reply before it counts as lost, ms (default 120 s). */
  commandTimeoutMs?: number;
  /** Open dropped connections again (default true). */
  reconnect?: boolean;
  /** Called about every `progressMs` while messages flow. */
  onProgress?: (p: Progress) => void;
  progressMs?: number;
  /** Setup steps, as they happen. */
  onStage?: (text: string) => void;
}

export interface Progress {
  elapsedMs: number;
  /** SENDs answered OK. */
  sent: number;
  /** Distinct messages delivered. */
  delivered: number;
  /** Sent (or being sent) and not delivered yet. */
  inFlight: number;
  /** Deliveries per second since the previous report. */
  rate: number;
  reconnects: number;
}

export interface LoadResult {
  ok: boolean;
  /** Why not ok, in words. */
  failures: string[];
  relay: { url: string; address: string; local: boolean };
  connections: number;
  recipients: number;
  senders: number;
  queues: number;
  messagesPerQueue: number;
  msgBytes: number;
  /** Seconds spent connecting and creating (and securing) the queues. */
  setupSeconds: number;
  /** Seconds from the first SEND to the last delivery (or the time limit). */
  runSeconds: number;
  expected: number;
  sent: number;
  uncertain: number;
  delivered: number;
  lost: number;
  duplicated: { byMsgId: number; legitimateRedeliveries: number; byContent: number };
  outOfOrder: number;
  unexpected: number;
  /** Delivered messages per second over the run. */
  rate: number;
  /** SEND called → MSG reached the recipient's connection, first delivery, ms. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; samples: number };
  reconnects: number;
  /** Connections that dropped during the run (reopened or not). */
  drops: number;
  /** Commands whose reply did not come within the command timeout (a SEND's then counts as uncertain; an ACK is sent again). */
  timeouts: number;
  /** Command errors (ERR replies, unexpected pushes), other than those of a dropped connection. */
  errors: number;
  timedOut: boolean;
  check: DeliveryReport;
}

/** The figures, as `npm run load` prints them. */
export function formatSummary(r: LoadResult): string {
  const l = r.latencyMs;
  const lines = [
    "",
    `relay        ${r.relay.url} (${r.relay.local ? "local, started for this run" : r.relay.address})`,
    `load         ${r.connections} connections (${r.recipients} recipient${r.recipients === 1 ? "" : "s"}, ${r.senders} sender${r.senders === 1 ? "" : "s"}), ${r.queues} queues × ${r.messagesPerQueue} messages of ${r.msgBytes} bytes`,
    `setup        ${fmt(r.setupSeconds, 1)} s (connect, NEW, SKEY)`,
    `run          ${fmt(r.runSeconds, 1)} s, ${fmt(r.rate, 0)} messages/s delivered`,
    `sent         ${r.sent} of ${r.expected} with OK${r.uncertain ? ` (+${r.uncertain} without a reply)` : ""}`,
    `delivered    ${r.delivered}`,
    `lost         ${r.lost}`,
    `duplicated   by msgId ${r.duplicated.byMsgId} (legitimate redeliveries before ACK: ${r.duplicated.legitimateRedeliveries}), by content ${r.duplicated.byContent}`,
    `out of order ${r.outOfOrder}`,
    `SEND → MSG   p50 ${fmt(l.p50, 1)} ms  p90 ${fmt(l.p90, 1)} ms  p99 ${fmt(l.p99, 1)} ms  max ${fmt(l.max, 1)} ms  (${l.samples} messages)`,
  ];
  if (r.drops > 0) lines.push(`dropped      ${r.drops} connections`);
  if (r.reconnects > 0) lines.push(`reconnects   ${r.reconnects}`);
  if (r.timeouts > 0) lines.push(`timeouts     ${r.timeouts} commands without a reply within the command timeout`);
  if (r.errors > 0) lines.push(`errors       ${r.errors}`);
  lines.push(r.ok ? "result       OK: nothing lost, nothing duplicated, all in order" : "result       FAILED");
  for (const f of r.failures) lines.push(`  - ${f}`);
  return lines.join("\n");
}
