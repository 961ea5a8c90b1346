// `npm run load -- --burst N`: one sender connection issues N SENDs at once, one to each of N
// queues, 15,000-byte bodies by default (one block each), the case of issue 10. It is the load run
// of bench/load-run.ts with one sender, one message per queue, a generator window of N (so all N
// SENDs are called together and only the client library's own window on blocks in flight holds
// them back) and no reconnects: a dropped connection fails the run, as does any SEND lost.
import type { LoadOptions } from "./load-run.js";

/** Queues each recipient connection creates: below the relay's NEW_QUEUES_PER_MINUTE (60). */
export const BURST_QUEUES_PER_RECIPIENT = 50;
/** SEND body size of a burst by default, in bytes: one SEND fills a block. */
export const BURST_MSG_BYTES = 15_000;

/**
 * The load options of a burst of `n` SENDs. `recipients` defaults to enough connections for
 * BURST_QUEUES_PER_RECIPIENT queues each; `rest` (time limit, relay, body size, windows) is kept.
 */
export function burstLoad(n: number, rest: Omit<LoadOptions, "connections" | "queues" | "messages">, recipients?: number): LoadOptions {
  const r = recipients ?? Math.ceil(n / BURST_QUEUES_PER_RECIPIENT);
  return {
    ...rest,
    msgBytes: rest.msgBytes ?? BURST_MSG_BYTES,
    window: rest.window ?? n,
    connections: r + 1,
    senders: 1,
    queues: n,
    messages: 1,
    reconnect: false,
  };
}
