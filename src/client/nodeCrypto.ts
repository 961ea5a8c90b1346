// Node only: the client's crypto on native code instead of pure JavaScript. useNodeCrypto puts the
// block chain on node:crypto's native HKDF (src/crypto/hkdf.ts), a few tens of µs less per block;
// useNodeLibsodium puts XSalsa20-Poly1305 on libsodium's WebAssembly (src/crypto/sodium.ts), about
// half the time per 16 KiB block. Browsers keep noble unless the page calls useLibsodium itself.
// Nothing else changes; each backend is used only after it gives @noble's bytes.
import { hkdfSync } from "node:crypto";
import libsodium from "libsodium";
import { fromNodeHkdf, useNativeHkdf } from "../crypto/hkdf.js";
import { useLibsodium } from "../crypto/sodium.js";

/** Call once at start-up; false when the native HKDF was refused (it disagreed with noble). */
export function useNodeCrypto(): boolean {
  return useNativeHkdf(fromNodeHkdf(hkdfSync));
}

/**
 * Starts libsodium (the `libsodium` package compiles its WebAssembly, about 2 ms) and makes it the
 * secretbox backend. Resolves false, noble kept, when it cannot start or disagrees with noble.
 */
export function useNodeLibsodium(): Promise<boolean> {
  return useLibsodium({ factory: libsodium });
}
