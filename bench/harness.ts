// `npm run bench:harness [-- --runs N]`: how long startLocalRelay() takes to be ready (GET /health
// has answered with the address), in ms: N sequential starts (the first includes loading
// Miniflare), then two at once; and how long stop() takes. Runs the harness's code on the Worker
// bundled as the build bundles it (dist/worker/), in a temporary directory removed at the end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { bundleWorker } from "../scripts/buildWorker.js";
import { startBundledRelay } from "../src/testing/localRelay.js";
import { readWorkerBundle } from "../src/testing/workerConfig.js";

const USAGE = `Usage: npm run bench:harness [-- --runs N]
  --runs N   sequential starts to time (1 to 100, default 5)
  --help     this text
`;

let runs = 5;
try {
  const { values } = parseArgs({ options: { runs: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!/^\d+$/.test(values.runs) || runs < 1 || runs > 100) throw new Error(`--runs ${values.runs}: expected a whole number from 1 to 100`);
  }
} catch (e) {
  process.stderr.write(`bench:harness: ${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "smp-relay-bench-harness-"));
try {
  const bundle = readWorkerBundle(await bundleWorker(dir));
  const starts: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const relay = await startBundledRelay(bundle);
    starts.push(performance.now() - t0);
    const t1 = performance.now();
    await relay.stop();
    stops.push(performance.now() - t1);
  }
  const t0 = performance.now();
  const both = await Promise.all([startBundledRelay(bundle), startBundledRelay(bundle)]);
  const twoAtOnce = performance.now() - t0;
  if (both[0].address === both[1].address) throw new Error("two relays started at once share an identity");
  await Promise.all(both.map((r) => r.stop()));

  const ms = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(", ");
  const sorted = [...starts].sort((a, b) => a - b);
  console.log(`startLocalRelay() until ready, ms (first includes loading Miniflare): ${ms(starts)}`);
  console.log(`  median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, max ${sorted[sorted.length - 1]?.toFixed(0)} ms`);
  console.log(`two at once, both ready: ${twoAtOnce.toFixed(0)} ms`);
  console.log(`stop(), ms: ${ms(stops)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
