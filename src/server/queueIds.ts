// Queue ids and routing.
//
// Every queue lives in the Queue object named by a random 12-byte queue key Q. Its two public
// ids are sealed forms of Q, so any id routes straight to its object with no lookup:
//
//   id = AES-256(Kenc, Q ‖ kind ‖ 000) ‖ HMAC-SHA256(Kmac, that block)[0..8]      (24 bytes)
//
// kind is "R" (recipient id) or "S" (sender id). AES is a keyed permutation, so a queue's two ids
// are unrelated random-looking blocks to anyone without the relay's routing key; the 8-byte MAC
// (and the zero bytes inside) reject a forged or mistyped id in the Session, before any Queue
// object wakes. Kenc and Kmac come from the relay's routing key (kept with its identity):
// losing that key orphans every queue.
import { ecb } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { asciiBytes, concatBytes, constantTimeEqual, hex } from "../protocol/encoding.js";
import { hkdfSha512 } from "../crypto/hkdf.js";
import { randomBytes } from "../crypto/random.js";

export const QUEUE_KEY_SIZE = 12;
export const QUEUE_ID_SIZE = 24;
const MAC_SIZE = 8;

export type IdKind = "rcv" | "snd";
const KIND_BYTE: Record<IdKind, number> = { rcv: 0x52, snd: 0x53 };

export interface RoutedId {
  /** Queue object name. */
  queue: string;
  kind: IdKind;
}

export class QueueIdCodec {
  private readonly enc: Uint8Array;
  private readonly mac: Uint8Array;

  constructor(routingKey: Uint8Array) {
    if (routingKey.length !== 32) throw new RangeError("routing key must be 32 bytes");
    const k = hkdfSha512(new Uint8Array(0), routingKey, asciiBytes("smp-relay queue ids"), 64);
    this.enc = k.slice(0, 32);
    this.mac = k.slice(32, 64);
  }

  /** A fresh queue: its object name and both ids. */
  newQueue(): { queue: string; rcvId: Uint8Array; sndId: Uint8Array } {
    const q = randomBytes(QUEUE_KEY_SIZE);
    return { queue: hex(q), rcvId: this.seal(q, "rcv"), sndId: this.seal(q, "snd") };
  }

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
    const kind = block[QUEUE_KEY_SIZE] === KIND_BYTE.rcv ? "rcv" : block[QUEUE_KEY_SIZE] === KIND_BYTE.snd ? "snd" : null;
    if (kind === null) return null;
    return { queue: hex(block.subarray(0, QUEUE_KEY_SIZE)), kind };
  }
}
