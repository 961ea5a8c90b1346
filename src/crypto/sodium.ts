// libsodium's secretbox (XSalsa20-Poly1305) through its WebAssembly build, synchronous, as a
// SecretboxBackend (secretboxBackend.ts). This layer imports no platform module: the caller passes
// the `libsodium` package's Emscripten factory and, where compiling from bytes is refused (workerd),
// the precompiled WebAssembly.Module: src/server/sodium.ts for the Worker (generated loader, .wasm
// imported as a module), src/client/nodeCrypto.ts for Node and a page's own call for browsers (the
// package's loader, which compiles the bytes it embeds). Start it inside a handler, never at
// module scope: sodium_init draws random bytes, which workerd forbids at global scope.
//
// Memory: one block of the wasm heap holds the key, the nonce and an input and an output buffer;
// allocated once, grown (never shrunk) when a longer message comes. The key, nonce and plaintext
// are zeroed after every call. An Emscripten abort or trap (WebAssembly.RuntimeError) drops the
// instance: that call and the following ones go to noble until a fresh instance has started and
// passed the check again.
import { agreesWithNoble, nobleSecretbox, SECRETBOX_TAG_BYTES, useSecretbox, type SecretboxBackend } from "./secretboxBackend.js";

/** The parts of libsodium's Emscripten module used here (u64 lengths arrive as two i32 halves). */
export interface SodiumModule {
  HEAPU8: Uint8Array;
  _sodium_init(): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  /** (c, m, mlen low, mlen high, n, k) → 0 */
  _crypto_secretbox_easy(c: number, m: number, mlenLo: number, mlenHi: number, n: number, k: number): number;
  /** (m, c, clen low, clen high, n, k) → 0, or -1 when the tag does not verify */
  _crypto_secretbox_open_easy(m: number, c: number, clenLo: number, clenHi: number, n: number, k: number): number;
}

/** What the factory takes: Emscripten's module argument (only the hooks used here). */
export interface SodiumModuleArg {
  /** Random 32-bit words for libsodium's randombytes (sodium_init stirs it). */
  getRandomValue(): number;
  /** Emscripten's hook to instantiate the wasm ourselves; returns {} (asynchronous result). */
  instantiateWasm?(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): Record<string, never>;
}

/** The default export of `libsodium`'s dist/modules-esm/libsodium.mjs (an Emscripten factory). */
export type SodiumFactory = (arg: SodiumModuleArg) => Promise<SodiumModule>;

/**
 * How to start libsodium here. `wasm`: the precompiled module (required in workerd); without it the
 * factory compiles the WebAssembly it embeds (Node, browsers).
 */
export interface SodiumSource {
  factory: SodiumFactory;
  wasm?: WebAssembly.Module;
}

/** Aborts after which the backend stops restarting and stays on noble (a fault that repeats). */
const MAX_RESTARTS = 3;
/** First buffer size (plaintext bytes): a relay block's content is 16368, a message body 16106. */
const INITIAL_CAPACITY = 16 * 1024 + 64;
const GROW_STEP = 4096;
/** key (32) ‖ nonce (24) ‖ 8 spare, then the input and output buffers. */
const HEADER = 64;

function randomWord(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** Starts one Emscripten instance and runs sodium_init. Rejects when the runtime cannot start. */
async function instantiate(source: SodiumSource): Promise<SodiumModule> {
  const { wasm } = source;
  const arg: SodiumModuleArg = { getRandomValue: randomWord };
  if (wasm !== undefined) {
    arg.instantiateWasm = (imports, done) => {
      done(new WebAssembly.Instance(wasm, imports), wasm);
      return {};
    };
  }
  const mod = await source.factory(arg);
  // Lengths are u64 passed as two i32 halves in this build; a build with BigInt lengths would
  // take 5 arguments and read garbage here.
  if (mod._crypto_secretbox_easy.length !== 6 || mod._crypto_secretbox_open_easy.length !== 6) throw new Error("libsodium: unexpected secretbox signature");
  if (mod._sodium_init() < 0) throw new Error("libsodium: sodium_init failed");
  return mod;
}

/** One started instance with its buffers. Every method may throw what the wasm throws. */
class SodiumRuntime {
  private base = 0;
  /** Largest message (plaintext bytes) the buffers hold. */
  private capacity = 0;

  constructor(private readonly mod: SodiumModule) {
    if (!this.reserve(INITIAL_CAPACITY)) throw new Error("libsodium: no memory for the buffers");
  }

  /** Makes room for `n` plaintext bytes; false when the heap cannot grow that far. */
  private reserve(n: number): boolean {
    if (n <= this.capacity) return true;
    const capacity = Math.ceil(Math.max(n, this.capacity) / GROW_STEP) * GROW_STEP;
    const ptr = this.mod._malloc(HEADER + 2 * (capacity + SECRETBOX_TAG_BYTES));
    if (ptr === 0) return false;
    if (this.base !== 0) this.mod._free(this.base);
    this.base = ptr;
    this.capacity = capacity;
    return true;
  }

  private get input(): number {
    return this.base + HEADER;
  }

  private get output(): number {
    return this.base + HEADER + this.capacity + SECRETBOX_TAG_BYTES;
  }

  /** null when the heap cannot hold the message (the caller falls back). */
  seal(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array | null {
    if (!this.reserve(msg.length)) return null;
    const { base, input, output } = this;
    // HEAPU8 is read again after anything that may grow the memory (reserve's malloc).
    const heap = this.mod.HEAPU8;
    heap.set(key, base);
    heap.set(nonce, base + 32);
    heap.set(msg, input);
    try {
      if (this.mod._crypto_secretbox_easy(output, input, msg.length, 0, base + 32, base) !== 0) throw new Error("libsodium: crypto_secretbox_easy failed");
      return this.mod.HEAPU8.slice(output, output + msg.length + SECRETBOX_TAG_BYTES);
    } finally {
      this.mod.HEAPU8.fill(0, base, input + msg.length);
    }
  }

  /** The plaintext; null when the tag does not verify; undefined when the heap cannot hold it. */
  open(key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null | undefined {
    if (boxed.length < SECRETBOX_TAG_BYTES) return null;
    const plainLength = boxed.length - SECRETBOX_TAG_BYTES;
    if (!this.reserve(plainLength)) return undefined;
    const { base, input, output } = this;
    const heap = this.mod.HEAPU8;
    heap.set(key, base);
    heap.set(nonce, base + 32);
    heap.set(boxed, input);
    try {
      if (this.mod._crypto_secretbox_open_easy(output, input, boxed.length, 0, base + 32, base) !== 0) return null;
      return this.mod.HEAPU8.slice(output, output + plainLength);
    } finally {
      const h = this.mod.HEAPU8;
      h.fill(0, base, base + HEADER);
      h.fill(0, output, output + plainLength);
    }
  }
}

/**
 * The libsodium backend: a running instance, or noble while one (re)starts after an abort. Made by
 * createLibsodiumSecretbox; `name` stays "libsodium" (the backend chosen), `running` tells the instance.
 */
export class LibsodiumSecretbox implements SecretboxBackend {
  readonly name = "libsodium";
  private runtime: SodiumRuntime | null;
  private restarting: Promise<void> | null = null;
  /** Aborts and traps seen (each dropped an instance). */
  aborts = 0;

  constructor(
    private readonly source: SodiumSource,
    mod: SodiumModule,
  ) {
    this.runtime = new SodiumRuntime(mod);
  }

  /** True while a libsodium instance serves the calls (false: noble, during a restart or for good). */
  get running(): boolean {
    return this.runtime !== null;
  }

  /** Resolves when no restart is in progress (tests). */
  async settled(): Promise<void> {
    while (this.restarting !== null) await this.restarting;
  }

  seal(key: Uint8Array, nonce: Uint8Array, msg: Uint8Array): Uint8Array {
    const rt = this.runtime;
    if (rt !== null) {
      try {
        const out = rt.seal(key, nonce, msg);
        if (out !== null) return out;
      } catch (e) {
        this.dropInstance(e);
      }
    }
    return nobleSecretbox.seal(key, nonce, msg);
  }

  open(key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null {
    const rt = this.runtime;
    if (rt !== null) {
      try {
        const out = rt.open(key, nonce, boxed);
        if (out !== undefined) return out;
      } catch (e) {
        this.dropInstance(e);
      }
    }
    return nobleSecretbox.open(key, nonce, boxed);
  }

  /** After an abort or trap: the instance is never used again; a fresh one starts in the background. */
  private dropInstance(cause: unknown): void {
    this.runtime = null;
    this.aborts++;
    console.warn(`libsodium: instance dropped after ${cause instanceof Error ? cause.message : String(cause)}; noble until a fresh one starts`);
    if (this.aborts > MAX_RESTARTS || this.restarting !== null) return;
    this.restarting = (async () => {
      try {
        const rt = new SodiumRuntime(await instantiate(this.source));
        if (agreesWithNoble(runtimeBackend(rt))) this.runtime = rt;
      } catch {
        // Stays on noble.
      } finally {
        this.restarting = null;
      }
    })();
  }
}

/** A bare runtime as a backend, for its check before use (a throw there fails the check). */
function runtimeBackend(rt: SodiumRuntime): SecretboxBackend {
  return {
    name: "libsodium",
    seal: (k, n, m) => rt.seal(k, n, m) ?? nobleSecretbox.seal(k, n, m),
    open: (k, n, b) => {
      const out = rt.open(k, n, b);
      return out === undefined ? nobleSecretbox.open(k, n, b) : out;
    },
  };
}

/**
 * Starts libsodium from `source` (about 1 ms). Rejects when it cannot start (workerd without a
 * precompiled module, a CSP refusing WebAssembly, a loader that is not the expected one); does not
 * check it against noble: useSecretbox (secretboxBackend.ts) does, and useLibsodium does both.
 */
export async function createLibsodiumSecretbox(source: SodiumSource): Promise<LibsodiumSecretbox> {
  return new LibsodiumSecretbox(source, await instantiate(source));
}

/**
 * Starts libsodium and, if it gives noble's bytes on the check vectors, makes it the secretbox
 * backend from now on. False, and noble kept, when it cannot start or disagrees; never rejects.
 */
export async function useLibsodium(source: SodiumSource): Promise<boolean> {
  let box: LibsodiumSecretbox;
  try {
    box = await createLibsodiumSecretbox(source);
  } catch {
    return false;
  }
  return useSecretbox(box);
}
