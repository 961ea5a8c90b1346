// Block content after the handshake: count (1..255) ‖ Large(transmission) × count.
import { Decoder, Encoder, ParseError } from "./encoding.js";
import { ENCRYPTED_BLOCK_PAD } from "./padding.js";

export const MAX_BATCH_COUNT = 255;
/** Largest block content: what fits pad(·, 16368). */
export const MAX_BATCH_CONTENT = ENCRYPTED_BLOCK_PAD - 2;
/** Largest sum of Large-wrapped items in one block (content minus the count byte). */
export const MAX_BATCH_ITEMS_SIZE = MAX_BATCH_CONTENT - 1;
/** Largest single transmission. */
export const MAX_TRANSMISSION_SIZE = MAX_BATCH_ITEMS_SIZE - 2;

export function encodeBatch(items: readonly Uint8Array[]): Uint8Array {
  if (items.length < 1 || items.length > MAX_BATCH_COUNT) throw new RangeError(`batch of ${items.length} items`);
  const e = new Encoder(items.reduce((n, t) => n + 2 + t.length, 1)).byte(items.length);
  for (const t of items) e.large(t);
  const out = e.bytes();
  if (out.length > MAX_BATCH_CONTENT) throw new RangeError(`batch of ${out.length} bytes exceeds a block`);
  return out;
}

export function decodeBatch(content: Uint8Array): Uint8Array[] {
  const d = new Decoder(content);
  const n = d.byte();
  if (n === 0) throw new ParseError("empty batch");
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(d.large());
  d.end();
  return out;
}

/**
 * Splits transmissions into block-sized batches, in order: a new batch starts when the next item
 * would push the Large-wrapped total past 16365 bytes or the count past 255.
 */
export function packBatches(items: readonly Uint8Array[]): Uint8Array[][] {
  const batches: Uint8Array[][] = [];
  let cur: Uint8Array[] = [];
  let size = 0;
  for (const t of items) {
    if (t.length > MAX_TRANSMISSION_SIZE) throw new RangeError(`transmission of ${t.length} bytes exceeds a block`);
    const s = 2 + t.length;
    if (cur.length > 0 && (size + s > MAX_BATCH_ITEMS_SIZE || cur.length === MAX_BATCH_COUNT)) {
      batches.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(t);
    size += s;
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}
