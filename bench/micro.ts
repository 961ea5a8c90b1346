// In-process microbenchmarks (Node) of the operations in ops.ts: time-bounded, µs per op.
import { makeOps } from "./ops.js";

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
  for (const op of await makeOps()) {
    progress(op.name);
    out.push({ name: op.name, depth: op.depth, ...(await measure(op.headline ? ms : ms / 3, op.run)) });
  }
  return out;
}
