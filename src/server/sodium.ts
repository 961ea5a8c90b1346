// The relay's secretbox on libsodium (src/crypto/sodium.ts): the WebAssembly is imported as a
// module (wrangler and esbuild make the .wasm a WebAssembly.Module: workerd refuses to compile
// bytes at run time) and handed to libsodium's loader; both are generated from the pinned
// `libsodium` package by scripts/libsodium.ts. Started on an object's first event, never at module
// scope (libsodium draws random bytes at start, which workerd forbids at global scope); until it
// has started, and wherever it cannot, the relay runs on @noble (same bytes).
// The generated files' types travel with this module to every program that compiles it (the
// Worker's, Node's tests, the bench's Workers).
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./libsodium-modules.d.ts" />
import { useLibsodium, type SodiumSource } from "../crypto/sodium.js";
import factory from "./generated/libsodium.mjs";
import wasm from "./generated/libsodium.wasm";

/** libsodium as the Worker gets it: the generated loader and the precompiled module (no start yet). */
export const WORKER_LIBSODIUM: SodiumSource = { factory, wasm };

let started: Promise<boolean> | null = null;

/**
 * Starts libsodium for this isolate on the first call (later calls return the same promise, at the
 * cost of a comparison); resolves true once it is the secretbox backend, false when it was refused
 * (logged). Callers need not wait: the switch happens between two synchronous crypto calls.
 */
export function startLibsodium(): Promise<boolean> {
  return (started ??= useLibsodium(WORKER_LIBSODIUM).then((ok) => {
    if (!ok) console.warn("libsodium did not start or disagrees with @noble/ciphers: secretbox stays on @noble");
    return ok;
  }));
}
