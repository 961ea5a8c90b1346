// How to run the bundled Worker: relay.json, written next to worker.js by the build
// (scripts/buildWorker.ts) from the wrangler config, so the harness runs exactly what deploys.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One Durable Object binding of the Worker. */
export interface DurableObjectBinding {
  /** The binding's name in `env` (SESSION, QUEUE, IDENTITY). */
  binding: string;
  /** The exported class (SessionDO, QueueDO, IdentityDO). */
  className: string;
  /** SQLite-backed storage (all of ours are). */
  sqlite: boolean;
}

/** The content of relay.json. */
export interface RelayWorkerConfig {
  /** YYYY-MM-DD, as in the wrangler config. */
  compatibilityDate: string;
  compatibilityFlags: string[];
  durableObjects: DurableObjectBinding[];
  /** The wrangler config's [vars]: the relay's defaults. */
  vars: Record<string, string>;
}

/** A built Worker: a directory holding worker.js and relay.json. */
export interface WorkerBundle {
  /** Absolute path of the bundled Worker (one ESM file). */
  scriptPath: string;
  config: RelayWorkerConfig;
}

/** Reads the bundle in `dir` (dist/worker in the package). */
export function readWorkerBundle(dir: string): WorkerBundle {
  if (!existsSync(join(dir, "relay.json"))) throw new Error(`startLocalRelay: no bundled Worker in ${dir} (in a clone of smp-relay, \`npm run build\` makes it)`);
  const config = JSON.parse(readFileSync(join(dir, "relay.json"), "utf8")) as RelayWorkerConfig;
  return { scriptPath: join(dir, "worker.js"), config };
}
