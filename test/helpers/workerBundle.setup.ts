// Vitest global setup of the "node" project: bundles the Worker from its sources (as the build
// does for dist/worker/) into a temporary directory, for test/helpers/localRelay.ts; removed after.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { bundleWorker } from "../../scripts/buildWorker.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The directory holding worker.js and relay.json. */
    workerBundleDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), "smp-relay-worker-"));
  await bundleWorker(dir);
  project.provide("workerBundleDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
