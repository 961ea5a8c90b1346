// The libsodium secretbox wrapper (src/crypto/sodium.ts) on its own: the relay's way in (the
// generated loader with the precompiled .wasm, as in workerd) and the Node client's (the package's
// own loader), heap buffers reused and grown, keys and plaintext wiped, tampered boxes refused, a
// fresh instance after a real Emscripten abort, and the check refusing a backend that disagrees.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { afterEach, describe, expect, it } from "vitest";
import libsodium from "libsodium";
import { useNodeLibsodium } from "../../src/client/nodeCrypto.js";
import { randomBytes } from "../../src/crypto/random.js";
import { cryptoBox, cryptoBoxOpen } from "../../src/crypto/secretbox.js";
import { agreesWithNoble, installedSecretbox, secretboxBackend, secretboxOpen, secretboxSeal, useNobleSecretbox } from "../../src/crypto/secretboxBackend.js";
import { createLibsodiumSecretbox, LibsodiumSecretbox, useLibsodium, type SodiumFactory, type SodiumModule, type SodiumSource } from "../../src/crypto/sodium.js";
import generatedFactory from "../../src/server/generated/libsodium.mjs";
// Brings the generated files' types (src/server/libsodium-modules.d.ts); erased at run time, where
// the .wasm import of that module would not load in Node.
import type {} from "../../src/server/sodium.js";

const GENERATED = resolve(import.meta.dirname, "../../src/server/generated");
const wasm = new WebAssembly.Module(readFileSync(join(GENERATED, "libsodium.wasm")));
/** As the Worker starts it: the generated loader, the wasm precompiled. */
const workerSource: SodiumSource = { factory: generatedFactory, wasm };

const noble = (key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array => xsalsa20poly1305(key, nonce).encrypt(msg);

/** A factory that records every module it made, with its malloc calls, and can alter them. */
function spying(base: SodiumFactory, alter: (mod: SodiumModule, index: number) => void = () => {}): { factory: SodiumFactory; mods: SodiumModule[]; mallocs: number[] } {
  const mods: SodiumModule[] = [];
  const mallocs: number[] = [];
  const factory: SodiumFactory = async (arg) => {
    const mod = await base(arg);
    const index = mods.length;
    mods.push(mod);
    const malloc = mod._malloc.bind(mod);
    mod._malloc = (n) => {
      mallocs.push(n);
      return malloc(n);
    };
    alter(mod, index);
    return mod;
  };
  return { factory, mods, mallocs };
}

/** Where `needle` occurs in `hay`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle));
}

afterEach(() => useNobleSecretbox());

describe.each([
  ["the Worker's way (generated loader, precompiled wasm)", workerSource],
  ["the package's own loader (Node, browsers)", { factory: libsodium } as SodiumSource],
])("libsodium secretbox through %s", (_name, source) => {
  it("gives noble's bytes and opens them, for sizes from 0 to past the first buffer", async () => {
    const box = await createLibsodiumSecretbox(source);
    expect(agreesWithNoble(box)).toBe(true);
    for (const size of [0, 1, 16, 17, 64, 1000, 16106, 16368, 16 * 1024 + 65, 100_000]) {
      const key = randomBytes(32);
      const nonce = randomBytes(24);
      const msg = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      const sealed = box.seal(key, nonce, msg);
      expect(sealed).toEqual(noble(key, nonce, msg));
      expect(box.open(key, nonce, sealed)).toEqual(msg);
    }
    expect(box.running).toBe(true);
  });

  it("a tampered, truncated or short box, a wrong key or a wrong nonce gives null", async () => {
    const box = await createLibsodiumSecretbox(source);
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const sealed = box.seal(key, nonce, randomBytes(500));
    for (const at of [0, 15, 16, 200, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[at]! ^= 0x80;
      expect(box.open(key, nonce, bad)).toBeNull();
    }
    expect(box.open(key, nonce, sealed.subarray(0, sealed.length - 1))).toBeNull();
    expect(box.open(key, nonce, sealed.subarray(0, 15))).toBeNull();
    expect(box.open(key, nonce, new Uint8Array(0))).toBeNull();
    expect(box.open(randomBytes(32), nonce, sealed)).toBeNull();
    expect(box.open(key, randomBytes(24), sealed)).toBeNull();
    expect(box.open(key, nonce, box.seal(key, nonce, new Uint8Array(0)))).toEqual(new Uint8Array(0));
  });
});

describe("libsodium secretbox: memory", () => {
  it("allocates its buffers once, and again only for a longer message than ever before", async () => {
    const spy = spying(generatedFactory);
    const box = await createLibsodiumSecretbox({ factory: spy.factory, wasm });
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const run = (size: number): void => {
      const msg = randomBytes(Math.min(size, 65536));
      const full = new Uint8Array(size);
      full.set(msg);
      expect(box.open(key, nonce, box.seal(key, nonce, full))).toEqual(full);
    };
    const first = spy.mallocs.length;
    expect(first).toBeGreaterThanOrEqual(1);
    for (const size of [0, 100, 16368, 16 * 1024 + 64]) run(size);
    expect(spy.mallocs.length).toBe(first); // within the first buffers
    run(50_000);
    expect(spy.mallocs.length).toBe(first + 1);
    for (const size of [10, 49_000, 50_000, 16368]) run(size);
    expect(spy.mallocs.length).toBe(first + 1); // shorter ones reuse it
    run(200_000);
    expect(spy.mallocs.length).toBe(first + 2);
  });

  it("leaves neither the key nor the plaintext in the wasm heap", async () => {
    const spy = spying(generatedFactory);
    const box = await createLibsodiumSecretbox({ factory: spy.factory, wasm });
    const heap = (): Uint8Array => spy.mods[0]!.HEAPU8;
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const secret = randomBytes(1000);
    const sealed = box.seal(key, nonce, secret);
    expect(indexOf(heap(), key)).toBe(-1);
    expect(indexOf(heap(), secret)).toBe(-1);
    expect(box.open(key, nonce, sealed)).toEqual(secret);
    expect(indexOf(heap(), key)).toBe(-1);
    expect(indexOf(heap(), secret)).toBe(-1);
    // A failed open leaves nothing either.
    sealed[20]! ^= 1;
    expect(box.open(key, nonce, sealed)).toBeNull();
    expect(indexOf(heap(), key)).toBe(-1);
  });
});

describe("libsodium secretbox: an Emscripten abort", () => {
  /** The first module's first seal passes a length over crypto_secretbox's maximum: sodium_misuse() aborts. */
  const abortOnce = (mod: SodiumModule, index: number): void => {
    if (index !== 0) return;
    const real = mod._crypto_secretbox_easy.bind(mod);
    let armed = true;
    mod._crypto_secretbox_easy = (c, m, lo, hi, n, k) => {
      if (!armed) return real(c, m, lo, hi, n, k);
      armed = false;
      return real(c, m, lo, 1, n, k);
    };
  };

  it("the call that aborted still gives the right box; noble meanwhile; then a fresh instance", async () => {
    const spy = spying(generatedFactory, abortOnce);
    const box = await createLibsodiumSecretbox({ factory: spy.factory, wasm });
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const msg = randomBytes(16368);
    const warn = console.warn;
    console.warn = () => {};
    try {
      expect(box.seal(key, nonce, msg)).toEqual(noble(key, nonce, msg));
    } finally {
      console.warn = warn;
    }
    expect(box.aborts).toBe(1);
    expect(box.running).toBe(false);
    // Before the fresh instance: noble's answers, the broken instance never called again.
    expect(box.open(key, nonce, noble(key, nonce, msg))).toEqual(msg);
    await box.settled();
    expect(spy.mods).toHaveLength(2);
    expect(box.running).toBe(true);
    let calls = 0;
    const fresh = spy.mods[1]!;
    const real = fresh._crypto_secretbox_easy.bind(fresh);
    fresh._crypto_secretbox_easy = (...a) => (calls++, real(...a));
    expect(box.seal(key, nonce, msg)).toEqual(noble(key, nonce, msg));
    expect(calls).toBe(1);
  });

  it("a fault that keeps coming back: restarts a few times, then stays on noble", async () => {
    // Every instance aborts on a 77-byte message, a size its check before use does not try.
    const spy = spying(generatedFactory, (mod) => {
      const real = mod._crypto_secretbox_open_easy.bind(mod);
      mod._crypto_secretbox_open_easy = (m, c, lo, hi, n, k) => real(m, c, lo, lo === 77 + 16 ? 1 : hi, n, k);
    });
    const box = await createLibsodiumSecretbox({ factory: spy.factory, wasm });
    expect(agreesWithNoble(box)).toBe(true);
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const sealed = noble(key, nonce, randomBytes(77));
    const warn = console.warn;
    console.warn = () => {};
    try {
      for (let i = 0; i < 10; i++) {
        expect(box.open(key, nonce, sealed)).not.toBeNull();
        await box.settled();
      }
    } finally {
      console.warn = warn;
    }
    // The first instance and three restarts, each dropped; no fifth.
    expect(box.running).toBe(false);
    expect(box.aborts).toBe(4);
    expect(spy.mods).toHaveLength(4);
  });
});

describe("choosing the backend", () => {
  it("useLibsodium installs it after the check; cryptoBox and the backend functions then run on it", async () => {
    expect(secretboxBackend()).toBe("noble");
    expect(await useLibsodium(workerSource)).toBe(true);
    expect(secretboxBackend()).toBe("libsodium");
    expect(installedSecretbox()).toBeInstanceOf(LibsodiumSecretbox);
    const secret = randomBytes(32);
    const nonce = randomBytes(24);
    const msg = randomBytes(16106);
    const sealed = cryptoBox(secret, nonce, msg);
    expect(cryptoBoxOpen(secret, nonce, sealed)).toEqual(msg);
    useNobleSecretbox();
    expect(cryptoBox(secret, nonce, msg)).toEqual(sealed);
    expect(() => secretboxSeal(randomBytes(31), nonce, msg)).toThrow(RangeError);
    expect(secretboxOpen(randomBytes(32), randomBytes(23), sealed)).toBeNull();
  });

  it("the Node client's useNodeLibsodium installs it", async () => {
    expect(await useNodeLibsodium()).toBe(true);
    expect(secretboxBackend()).toBe("libsodium");
  });

  it("refuses a libsodium that disagrees with noble (one bit of one size), and keeps noble", async () => {
    const spy = spying(generatedFactory, (mod) => {
      const real = mod._crypto_secretbox_easy.bind(mod);
      mod._crypto_secretbox_easy = (c, m, lo, hi, n, k) => {
        const rc = real(c, m, lo, hi, n, k);
        if (lo === 1000) mod.HEAPU8[c + 500]! ^= 1;
        return rc;
      };
    });
    expect(await useLibsodium({ factory: spy.factory, wasm })).toBe(false);
    expect(secretboxBackend()).toBe("noble");
  });

  it("refuses one that opens a tampered box, one that cannot start, and one with another ABI", async () => {
    const accepting = spying(generatedFactory, (mod) => {
      const real = mod._crypto_secretbox_open_easy.bind(mod);
      mod._crypto_secretbox_open_easy = (...a) => (real(...a), 0);
    });
    expect(await useLibsodium({ factory: accepting.factory, wasm })).toBe(false);
    const failing: SodiumFactory = () => Promise.reject(new WebAssembly.CompileError("Wasm code generation disallowed by embedder"));
    expect(await useLibsodium({ factory: failing })).toBe(false);
    const bigint = spying(generatedFactory, (mod) => {
      mod._crypto_secretbox_easy = ((c: number, m: number, mlen: number, n: number, k: number) => mod._crypto_secretbox_easy(c, m, mlen, 0, n, k)) as unknown as SodiumModule["_crypto_secretbox_easy"];
    });
    await expect(createLibsodiumSecretbox({ factory: bigint.factory, wasm })).rejects.toThrow(/signature/);
    expect(secretboxBackend()).toBe("noble");
  });
});
