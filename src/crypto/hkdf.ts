// HKDF-SHA512 (RFC 5869). Synchronous, from @noble/hashes, rather than WebCrypto's async HKDF:
// the block chain must step and seal in one synchronous run, so that two events of a Durable
// Object can never interleave between reading a chain key and writing the next one.
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha512 } from "@noble/hashes/sha2.js";

export function hkdfSha512(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdf(sha512, ikm, salt, info, length);
}
