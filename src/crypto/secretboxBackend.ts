// XSalsa20-Poly1305 (NaCl secretbox) behind one interface with two backends: @noble/ciphers (runs
// everywhere, the default) and libsodium's WebAssembly (sodium.ts), about twice as fast on 16 KiB
// blocks, installed where it can start. Chosen once, as hkdf.ts chooses its HKDF: a backend is
// used only after it gives noble's bytes on the vectors below. Synchronous, like the block chain
// that calls it (see hkdf.ts for why).
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { equalBytes } from "../protocol/encoding.js";

export const SECRETBOX_KEY_BYTES = 32;
export const SECRETBOX_NONCE_BYTES = 24;
export const SECRETBOX_TAG_BYTES = 16;

/** One implementation of secretbox. `seal` gives tag(16) ‖ ciphertext; `open` null on a bad tag. */
export interface SecretboxBackend {
  readonly name: "noble" | "libsodium";
  /** key 32 bytes, nonce 24 bytes (checked by the caller); output msg.length + 16 bytes. */
  seal(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array;
  /** The plaintext (boxed.length - 16 bytes), or null when the tag does not verify or boxed is short. */
  open(key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null;
}

export const nobleSecretbox: SecretboxBackend = {
  name: "noble",
  seal: (key, nonce, msg) => xsalsa20poly1305(key, nonce).encrypt(msg),
  open(key, nonce, boxed) {
    if (boxed.length < SECRETBOX_TAG_BYTES) return null;
    try {
      return xsalsa20poly1305(key, nonce).decrypt(boxed);
    } catch {
      return null;
    }
  },
};

let impl: SecretboxBackend = nobleSecretbox;

const rightSizes = (key: Uint8Array, nonce: Uint8Array): boolean => key.length === SECRETBOX_KEY_BYTES && nonce.length === SECRETBOX_NONCE_BYTES;

/** Seals with the installed backend: tag ‖ ciphertext. RangeError on a wrong key or nonce size. */
export function secretboxSeal(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
  if (!rightSizes(key, nonce)) throw new RangeError(`secretbox needs a ${SECRETBOX_KEY_BYTES}-byte key and a ${SECRETBOX_NONCE_BYTES}-byte nonce, got ${key.length} and ${nonce.length}`);
  return impl.seal(key, nonce, msg);
}

/** Opens with the installed backend; null when the tag does not verify, or the key or nonce has the wrong size. */
export function secretboxOpen(key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null {
  if (!rightSizes(key, nonce)) return null;
  return impl.open(key, nonce, boxed);
}

/** The backend in use. */
export function secretboxBackend(): SecretboxBackend["name"] {
  return impl.name;
}

/** Deterministic bytes for the vectors (no randomness: this may run anywhere, at any time). */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Message sizes of the check: empty, around Poly1305's 16-byte blocks and Salsa20's 64-byte ones,
 * a relay block's padded content (16368) and a size past it (the wasm buffers grow).
 */
const CHECK_SIZES = [0, 1, 15, 16, 17, 63, 64, 65, 1000, 16368, 20001];

/**
 * True when `candidate` gives noble's bytes for seal, opens what noble sealed, and refuses a box
 * with one bit flipped (tag, first and last ciphertext byte), on every size of CHECK_SIZES. False,
 * never a throw, when it disagrees or throws. About 1 ms with noble's share.
 */
export function agreesWithNoble(candidate: SecretboxBackend): boolean {
  try {
    for (const [i, size] of CHECK_SIZES.entries()) {
      const key = pattern(SECRETBOX_KEY_BYTES, 11 + i);
      const nonce = pattern(SECRETBOX_NONCE_BYTES, 101 + i);
      const msg = pattern(size, 1001 + i);
      const want = nobleSecretbox.seal(key, nonce, msg);
      if (!equalBytes(candidate.seal(key, nonce, msg), want)) return false;
      const opened = candidate.open(key, nonce, want);
      if (opened === null || !equalBytes(opened, msg)) return false;
      for (const at of new Set([0, Math.min(SECRETBOX_TAG_BYTES, want.length - 1), want.length - 1])) {
        const bad = want.slice();
        bad[at]! ^= 0x01;
        if (candidate.open(key, nonce, bad) !== null) return false;
      }
    }
    return candidate.open(pattern(32, 1), pattern(24, 2), new Uint8Array(SECRETBOX_TAG_BYTES - 1)) === null;
  } catch {
    return false;
  }
}

/** Uses `backend` from now on if it agrees with noble (agreesWithNoble); false, and noble kept, if not. */
export function useSecretbox(backend: SecretboxBackend): boolean {
  if (!agreesWithNoble(backend)) return false;
  impl = backend;
  return true;
}

/** The backend in use itself (the bench times it next to noble). */
export function installedSecretbox(): SecretboxBackend {
  return impl;
}

/** Back to noble (tests, and the bench comparing both). */
export function useNobleSecretbox(): void {
  impl = nobleSecretbox;
}
