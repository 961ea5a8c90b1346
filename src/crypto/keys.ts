// Public keys as SMP carries them: DER SubjectPublicKeyInfo with a fixed prefix per algorithm.
import { concatBytes, equalBytes } from "../protocol/encoding.js";

export type KeyAlgorithm = "x25519" | "ed25519" | "ed448";

const PREFIX: Record<KeyAlgorithm, Uint8Array> = {
  x25519: Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]),
  ed25519: Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]),
  ed448: Uint8Array.from([0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x3a, 0x00]),
};
const RAW_LENGTH: Record<KeyAlgorithm, number> = { x25519: 32, ed25519: 32, ed448: 57 };

export interface PublicKey {
  alg: KeyAlgorithm;
  raw: Uint8Array;
}

export function encodePublicKey(k: PublicKey): Uint8Array {
  if (k.raw.length !== RAW_LENGTH[k.alg]) throw new RangeError(`bad ${k.alg} key length`);
  return concatBytes(PREFIX[k.alg], k.raw);
}

/** Decodes an exact DER public key of one of the three algorithms; null for anything else. */
export function decodePublicKey(der: Uint8Array): PublicKey | null {
  for (const alg of ["x25519", "ed25519", "ed448"] as const) {
    const p = PREFIX[alg];
    if (der.length === p.length + RAW_LENGTH[alg] && equalBytes(der.subarray(0, p.length), p)) {
      return { alg, raw: der.slice(p.length) };
    }
  }
  return null;
}
