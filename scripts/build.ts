// `npm run build` (and `prepack`): dist/ from scratch. tsc compiles the library, CLI and harness
// (tsconfig.build.json says why tsc); buildWorker.ts bundles the Worker into dist/worker/.
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleWorker } from "./buildWorker.js";

const ROOT = resolve(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");

rmSync(DIST, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });
if (tsc.status !== 0) {
  console.error("build: tsc failed");
  process.exit(1);
}
await bundleWorker(join(DIST, "worker"));
chmodSync(join(DIST, "cli/bin.js"), 0o755);
console.log("build: dist/ ready");
