// Block padding: Word16 length ‖ content ‖ "#" fill up to the block size.
import { ParseError } from "./encoding.js";

/** Size of every WebSocket frame, both directions. */
export const BLOCK_SIZE = 16384;
/** Poly1305 tag added by block encryption. */
export const BLOCK_TAG_SIZE = 16;
/** Padded plaintext size of an encrypted block. */
export const ENCRYPTED_BLOCK_PAD = BLOCK_SIZE - BLOCK_TAG_SIZE;

const FILL = 0x23; // "#"

export function pad(msg: Uint8Array, size: number): Uint8Array {
  if (msg.length > size - 2 || msg.length > 0xffff) throw new RangeError(`message of ${msg.length} bytes does not fit ${size}`);
  const out = new Uint8Array(size);
  out[0] = msg.length >>> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  out.fill(FILL, 2 + msg.length);
  return out;
}

/** Reads the length prefix and returns that many bytes; the fill is not checked. */
export function unpad(block: Uint8Array): Uint8Array {
  if (block.length < 2) throw new ParseError("padded block too short");
  const len = ((block[0] as number) << 8) | (block[1] as number);
  if (len > block.length - 2) throw new ParseError(`padded length ${len} exceeds block`);
  return block.subarray(2, 2 + len);
}
