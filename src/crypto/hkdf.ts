// HKDF-SHA512 (RFC 5869), synchronous: the block chain must step and seal in one synchronous run,
// so that two events of a Durable Object can never interleave between reading a chain key and
// writing the next one. WebCrypto's HKDF is async, so the default is @noble/hashes (runs
// everywhere); a runtime with a native synchronous HKDF (node:crypto in the Worker and in Node)
// can install it with useNativeHkdf: a block needs one HKDF step, and in workerd noble's takes
// ~30 µs where the native one takes ~5.
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { equalBytes } from "../protocol/encoding.js";

export type HkdfSha512 = (salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number) => Uint8Array;

const noble: HkdfSha512 = (salt, ikm, info, length) => hkdf(sha512, ikm, salt, info, length);
let impl: HkdfSha512 = noble;

export function hkdfSha512(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return impl(salt, ikm, info, length);
}

/** node:crypto's `hkdfSync` (Node, and workerd with nodejs_compat), passed in: this layer imports no Node module. */
export type NodeHkdfSync = (digest: "sha512", ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, keylen: number) => ArrayBuffer;

/** Our HKDF shape over node:crypto's `hkdfSync`. */
export function fromNodeHkdf(hkdfSync: NodeHkdfSync): HkdfSha512 {
  return (salt, ikm, info, length) => new Uint8Array(hkdfSync("sha512", ikm, salt, info, length));
}

/**
 * Uses `native` from now on, after checking it against noble on the shapes the relay uses
 * (empty and 32-byte salts, 64- and 88-byte outputs). False, and noble kept, when it disagrees
 * or throws.
 */
export function useNativeHkdf(native: HkdfSha512): boolean {
  const ikm = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
  const info = new TextEncoder().encode("SimpleXSbChain");
  try {
    for (const [salt, length] of [[new Uint8Array(0), 88], [ikm.slice().reverse(), 64]] as const) {
      if (!equalBytes(native(salt, ikm, info, length), noble(salt, ikm, info, length))) return false;
    }
  } catch {
    return false;
  }
  impl = native;
  return true;
}

/** Back to noble (tests). */
export function useNobleHkdf(): void {
  impl = noble;
}
