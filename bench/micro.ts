// In-process microbenchmarks (Node) of the operations in ops.ts, then of the 16 KB secretbox on
// both backends (workerd/cipher.ts; libsodium started as the Node client starts it): time-bounded,
// µs per op. ops.ts's blocks are sealed on libsodium, as the relay seals them.
import libsodium from "libsodium";
import { installedSecretbox, useSecretbox } from "../src/crypto/secretboxBackend.js";
import { createLibsodiumSecretbox } from "../src/crypto/sodium.js";
import { makeOps } from "./ops.js";
import { cipherOps } from "./workerd/cipher.js";

export interface MicroResult {
  name: string;
  depth: number;
  iterations: number;
  /** Wall time per op. */
  wallUs: number;
  /** Process CPU per op (all threads: Node runs async WebCrypto jobs on its thread pool). */
  cpuUs: number;
}

const MAX_ITERATIONS = 1_000_000;

async function measure(ms: number, op: () => unknown): Promise<{ iterations: number; wallUs: number; cpuUs: number }> {
  // Warm-up: let the JIT settle; bounded by time and count like the run itself.
  const warmEnd = performance.now() + Math.min(250, ms / 4);
  for (let i = 0; i < MAX_ITERATIONS && performance.now() < warmEnd; i++) await op();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  let t = t0;
  while (n < MAX_ITERATIONS && t - t0 < ms) {
    await op();
    n++;
    t = performance.now();
  }
  const c = process.cpuUsage(c0);
  return { iterations: n, wallUs: ((t - t0) * 1000) / n, cpuUs: (c.user + c.system) / n };
}

/** `ms` is the time budget of each headline figure; breakdown steps get a third of it. */
export async function runMicro(ms: number, progress: (name: string) => void = () => {}): Promise<MicroResult[]> {
  const out: MicroResult[] = [];
  const sodium = await createLibsodiumSecretbox({ factory: libsodium });
  const before = installedSecretbox();
  if (!useSecretbox(sodium)) throw new Error("libsodium disagrees with @noble/ciphers");
  try {
    for (const op of [...(await makeOps()), ...cipherOps(sodium)]) {
      progress(op.name);
      out.push({ name: op.name, depth: op.depth, ...(await measure(op.headline ? ms : ms / 3, op.run)) });
    }
  } finally {
    useSecretbox(before); // the rest of the bench's process as it was
  }
  return out;
}
