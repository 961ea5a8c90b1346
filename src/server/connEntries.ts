// A connection's per-queue entries (ConnQueue, queue.ts) packed into bytes for the socket
// attachment (connQueues.ts). Queue object names are 24 hex characters (a 12-byte queue key,
// queueIds.ts), kept as their 12 bytes. One entry:
//
//   key(12) ‖ "S" ‖ gen(u32 BE)                    subscriber                17 bytes
//   key(12) ‖ "G"                                  GET reader, nothing given  13 bytes
//   key(12) ‖ "D" ‖ len(1) ‖ msgId(len)            GET reader, given msgId    14 + len bytes
import { equalBytes, hex } from "../protocol/encoding.js";

/**
 * What one connection is to one queue, as its Session keeps it: the subscriber (with the
 * generation of its SUB), or a reader with GET (with the message its last GET gave it, upstream's
 * `delivered` of a ProhibitSub). No entry: neither.
 */
export type ConnQueue = { mode: "sub"; gen: number } | { mode: "get"; delivered: Uint8Array | null };

/**
 * Bytes of packed entries kept in the attachment, at most: with the session's keys and chain
 * state (~400 bytes serialized) it stays under the attachment's 2,048. About 80 subscriptions.
 */
export const ATTACHED_MAX = 1400;

const KEY = 12;
const SUB = 0x53;
const GET = 0x47;
const GOT = 0x44;

function entrySize(e: ConnQueue): number {
  if (e.mode === "sub") return KEY + 5;
  return e.delivered === null ? KEY + 1 : KEY + 2 + e.delivered.length;
}

/** Bytes `entries` take packed. */
export function packedSize(entries: Map<string, ConnQueue>): number {
  let n = 0;
  for (const e of entries.values()) n += entrySize(e);
  return n;
}

function keyBytes(queue: string): Uint8Array {
  if (!/^[0-9a-f]{24}$/.test(queue)) throw new RangeError(`not a queue name: ${queue}`);
  const b = new Uint8Array(KEY);
  for (let i = 0; i < KEY; i++) b[i] = parseInt(queue.slice(2 * i, 2 * i + 2), 16);
  return b;
}

/** The entries as bytes (see the top of the file). RangeError for a name that is not a queue's, or a msgId over 255 bytes. */
export function packEntries(entries: Map<string, ConnQueue>): Uint8Array {
  const out = new Uint8Array(packedSize(entries));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [queue, e] of entries) {
    out.set(keyBytes(queue), at);
    at += KEY;
    if (e.mode === "sub") {
      out[at] = SUB;
      view.setUint32(at + 1, e.gen);
      at += 5;
    } else if (e.delivered === null) {
      out[at++] = GET;
    } else {
      if (e.delivered.length > 255) throw new RangeError("msgId over 255 bytes");
      out[at] = GOT;
      out[at + 1] = e.delivered.length;
      out.set(e.delivered, at + 2);
      at += 2 + e.delivered.length;
    }
  }
  return out;
}

/** The entries back from packEntries' bytes. Throws RangeError on bytes it did not write. */
export function unpackEntries(b: Uint8Array): Map<string, ConnQueue> {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Map<string, ConnQueue>();
  let at = 0;
  while (at < b.length) {
    if (at + KEY + 1 > b.length) throw new RangeError("truncated entry");
    const queue = hex(b.subarray(at, at + KEY));
    const tag = b[at + KEY];
    at += KEY + 1;
    if (tag === SUB) {
      if (at + 4 > b.length) throw new RangeError("truncated entry");
      out.set(queue, { mode: "sub", gen: view.getUint32(at) });
      at += 4;
    } else if (tag === GET) {
      out.set(queue, { mode: "get", delivered: null });
    } else if (tag === GOT) {
      const len = b[at];
      if (len === undefined || at + 1 + len > b.length) throw new RangeError("truncated entry");
      out.set(queue, { mode: "get", delivered: b.slice(at + 1, at + 1 + len) });
      at += 1 + len;
    } else {
      throw new RangeError(`unknown entry tag ${String(tag)}`);
    }
  }
  return out;
}

/** Whether two entries say the same (the same generation, the same delivered msgId). */
export function sameEntry(a: ConnQueue | null, b: ConnQueue | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.mode === "sub" || b.mode === "sub") return a.mode === b.mode && (a as { gen: number }).gen === (b as { gen: number }).gen;
  const x = a.delivered;
  const y = b.delivered;
  return x === null || y === null ? x === y : equalBytes(x, y);
}
