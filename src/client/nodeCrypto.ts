// Node only: the client's block chain on node:crypto's native HKDF instead of @noble/hashes
// (src/crypto/hkdf.ts), a few tens of µs less per block. Browsers keep noble; nothing else
// changes. Call once at start-up; false when the native HKDF was refused (it disagreed with noble).
import { hkdfSync } from "node:crypto";
import { fromNodeHkdf, useNativeHkdf } from "../crypto/hkdf.js";

export function useNodeCrypto(): boolean {
  return useNativeHkdf(fromNodeHkdf(hkdfSync));
}
