// The baselines' wire format, shared by both Workers and the bench's client driver
// (bench/baselines.ts): every frame is one 16384-byte binary WebSocket message, like the relay's
// blocks. Byte 0 is the operation, bytes 1..4 the queue index (big endian); the rest is filler.

export const FRAME_BYTES = 16384;

/** Baseline A (forward): the sender's message, forwarded to the other socket. */
export const OP_DATA = 1;
/** Baseline A: the recipient's acknowledgement, forwarded back to the sender (which ignores it). */
export const OP_ACKNOWLEDGE = 2;

/** Baseline B (topology), client → Session: subscribe to queue i. */
export const OP_SUB = 3;
/** Baseline B: SEND to queue i; the Session RPCs the Queue object, which RPCs the subscriber's Session. */
export const OP_SEND = 4;
/** Baseline B: ACK of queue i's delivered message; the reply is the next message, or OK. */
export const OP_ACK = 5;
/** Baseline B, Session → client: a reply with nothing in it. */
export const OP_OK = 6;
/** Baseline B, Session → client: a message of queue i (pushed, or in the reply to SUB or ACK). */
export const OP_MSG = 7;

export function frame(op: number, queue: number): Uint8Array {
  const f = new Uint8Array(FRAME_BYTES);
  f[0] = op;
  new DataView(f.buffer).setUint32(1, queue);
  return f;
}

export function opOf(f: Uint8Array): number {
  return f[0] ?? 0;
}

export function queueOf(f: Uint8Array): number {
  return f.length >= 5 ? new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(1) : -1;
}
