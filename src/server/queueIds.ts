// Queue ids and routing.
//
// Every queue lives in the Queue object named by a random 12-byte queue key Q. Its two public
// ids are sealed forms of Q, so any id routes straight to its object with no lookup:
//
//   id = AES-256(Kenc, Q ‖ kind ‖ 000) ‖ HMAC-SHA256(Kmac, that block)[0..8]      (24 bytes)
//
// kind is "R" (recipient id), "S" (sender id) or "L" (the link id of a one-time invitation, which
// the relay chooses). AES is a keyed permutation, so a queue's ids are unrelated random-looking
// blocks to anyone without the relay's routing key; the 8-byte MAC (and the zero bytes inside)
// reject a forged or mistyped id in the Session. A recipient id is always the relay's, so a
// forged one wakes no object at all; a sender or link id that does not open may be one a client
// chose, and costs one index lookup (below), which finds nothing and writes nothing. Kenc and Kmac come
// from the relay's routing key (kept with its identity): losing that key orphans every queue.
//
// Ids the client chooses (WIRE.md 6.13a: the sender id of a queue made with link data, and a
// contact address's link id) cannot carry Q. Each such id gets an index object instead
// (idIndex.ts), named by a keyed hash of the id and its kind:
//
//   name = hex(HMAC-SHA256(Kidx, kind ‖ id))       (kind "S" or "L")
//
// so the object's name reveals neither the id nor which queue it leads to, and an id of one kind
// never finds the index entry of another.
import { ecb } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { asciiBytes, concatBytes, constantTimeEqual, hex } from "../protocol/encoding.js";
import { hkdfSha512 } from "../crypto/hkdf.js";
import { randomBytes } from "../crypto/random.js";

export const QUEUE_KEY_SIZE = 12;
export const QUEUE_ID_SIZE = 24;
const MAC_SIZE = 8;

/** Recipient id, sender id, link id (WIRE.md 6.13a). */
export type IdKind = "rcv" | "snd" | "link";
const KIND_BYTE: Record<IdKind, number> = { rcv: 0x52, snd: 0x53, link: 0x4c };
/** The kinds a client may choose an id of: they route through an index object. */
export type IndexedKind = Exclude<IdKind, "rcv">;

const KIND_OF = new Map<number, IdKind>(Object.entries(KIND_BYTE).map(([k, b]) => [b, k as IdKind]));

export interface RoutedId {
  /** Queue object name. */
  queue: string;
  kind: IdKind;
}

export class QueueIdCodec {
  private readonly enc: Uint8Array;
  private readonly mac: Uint8Array;
  private readonly idx: Uint8Array;

  /** routingKey: 32 bytes (RangeError otherwise). */
  constructor(routingKey: Uint8Array) {
    if (routingKey.length !== 32) throw new RangeError("routing key must be 32 bytes");
    const k = hkdfSha512(new Uint8Array(0), routingKey, asciiBytes("smp-relay queue ids"), 64);
    this.enc = k.slice(0, 32);
    this.mac = k.slice(32, 64);
    this.idx = hkdfSha512(new Uint8Array(0), routingKey, asciiBytes("smp-relay id index"), 32);
  }

  /** The index object's name for a client-chosen id of this kind: 64 hex characters. */
  indexName(kind: IndexedKind, id: Uint8Array): string {
    return hex(hmac(sha256, this.idx, concatBytes(new Uint8Array([KIND_BYTE[kind]]), id)));
  }

  /** A fresh queue: its object name and its relay-chosen ids. */
  newQueue(): { queue: string; rcvId: Uint8Array; sndId: Uint8Array; linkId: Uint8Array } {
    const q = randomBytes(QUEUE_KEY_SIZE);
    return { queue: hex(q), rcvId: this.seal(q, "rcv"), sndId: this.seal(q, "snd"), linkId: this.seal(q, "link") };
  }

  /** A queue's id of one kind, from its 12-byte queue key: 24 bytes. */
  seal(q: Uint8Array, kind: IdKind): Uint8Array {
    const block = new Uint8Array(16);
    block.set(q);
    block[QUEUE_KEY_SIZE] = KIND_BYTE[kind];
    const c = ecb(this.enc, { disablePadding: true }).encrypt(block);
    return concatBytes(c, hmac(sha256, this.mac, c).subarray(0, MAC_SIZE));
  }

  /** The queue an id belongs to, or null for anything the relay did not issue. */
  open(id: Uint8Array): RoutedId | null {
    if (id.length !== QUEUE_ID_SIZE) return null;
    const c = id.subarray(0, 16);
    if (!constantTimeEqual(hmac(sha256, this.mac, c).subarray(0, MAC_SIZE), id.subarray(16))) return null;
    const block = ecb(this.enc, { disablePadding: true }).decrypt(c);
    if (block[13] !== 0 || block[14] !== 0 || block[15] !== 0) return null;
    const kind = KIND_OF.get(block[QUEUE_KEY_SIZE]!);
    if (kind === undefined) return null;
    return { queue: hex(block.subarray(0, QUEUE_KEY_SIZE)), kind };
  }
}
