// SimpleX's cryptoBox: XSalsa20-Poly1305 keyed with HSalsa20(key, 0¹⁶), output tag ‖ ciphertext.
// For a raw X25519 secret this is exactly NaCl crypto_box_easy (the "beforenm" step); SimpleX
// applies the same step to the symmetric keys of block encryption too. HSalsa20 is @noble's (the
// libsodium build exports no crypto_core_hsalsa20, and it is one core call); XSalsa20-Poly1305 is
// the installed backend's (secretboxBackend.ts: noble, or libsodium where it started).
import { hsalsa } from "@noble/ciphers/salsa.js";
import { secretboxOpen, secretboxSeal } from "./secretboxBackend.js";

const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]); // "expand 32-byte k"

function u32le(b: Uint8Array): Uint32Array {
  const out = new Uint32Array(b.length / 4);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = v.getUint32(4 * i, true);
  return out;
}

/** HSalsa20(key, 16 zero bytes): NaCl's crypto_box_beforenm on a shared secret. */
export function boxKey(secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new RangeError("box key must be 32 bytes");
  const out = new Uint32Array(8);
  hsalsa(SIGMA, u32le(secret), new Uint32Array(4), out);
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  for (let i = 0; i < 8; i++) v.setUint32(4 * i, out[i] as number, true);
  return b;
}

/** Seals with an already-derived box key (see boxKey). */
export function sealWithBoxKey(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
  return secretboxSeal(key, nonce, msg);
}

/** Opens with an already-derived box key; null when the tag does not verify or boxed is short. */
export function openWithBoxKey(key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null {
  return secretboxOpen(key, nonce, boxed);
}

/** NaCl crypto_box_easy over a raw 32-byte X25519 secret: tag ‖ ciphertext. The derived key is wiped. */
export function cryptoBox(secret: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
  const key = boxKey(secret);
  try {
    return secretboxSeal(key, nonce, msg);
  } finally {
    key.fill(0);
  }
}

/** crypto_box_open_easy over a raw X25519 secret; null when the tag does not verify. The derived key is wiped. */
export function cryptoBoxOpen(secret: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null {
  const key = boxKey(secret);
  try {
    return secretboxOpen(key, nonce, boxed);
  } finally {
    key.fill(0);
  }
}
