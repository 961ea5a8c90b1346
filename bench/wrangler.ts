// Starts one of the bench's own Workers (bench/workerd/, bench/baselines/*/) under `wrangler dev`,
// exactly the way startRelay (test/helpers/relay.ts) starts the relay: on 127.0.0.1, a port and a
// storage directory of its own, its process group detached so stop() ends wrangler and both
// workerds (and removes the storage).
import { startRelay, type RunningRelay } from "../test/helpers/relay.js";

export interface BenchWorkerOptions {
  /** wrangler.toml, relative to the repository root. */
  config: string;
  /** A path that answers 200 once the Worker is up. */
  readyPath: string;
  /** For error messages: "bench worker", "baseline A", … */
  label: string;
  /** `--var NAME:VALUE` for each. */
  vars?: Record<string, string>;
}

export function startBenchWorker({ config, readyPath, label, vars }: BenchWorkerOptions): Promise<RunningRelay> {
  return startRelay({ config, readyPath, label: `wrangler dev (${label})`, vars });
}
