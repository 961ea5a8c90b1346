// Bundles the relay's Worker (src/server/worker.ts) into one ESM file with esbuild, next to a
// relay.json describing how to run it (compatibility date and flags, Durable Object bindings,
// default vars), both read from the wrangler config: what `startLocalRelay` (src/testing/) hands
// to Miniflare, so a consumer of the package needs neither wrangler nor our sources.
// `cloudflare:*` and `node:*` imports stay external: workerd provides them (nodejs_compat).
// libsodium's WebAssembly (generated first, scripts/libsodium.ts) is copied next to worker.js as
// libsodium.wasm and stays an import: Miniflare loads it as a compiled module (CompiledWasm).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { unstable_getDurableObjectClassNameToUseSQLiteMap, unstable_readConfig } from "wrangler";
import type { RelayWorkerConfig } from "../src/testing/workerConfig.js";
import { generateLibsodium } from "./libsodium.js";

const ROOT = resolve(import.meta.dirname, "..");

/** The wrangler config the relay deploys with (wrangler.jsonc, or wrangler.toml before the move). */
function wranglerConfig(): RelayWorkerConfig {
  const config = unstable_readConfig({}, { hideWarnings: true });
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.vars)) vars[k] = String(v);
  const sqlite = unstable_getDurableObjectClassNameToUseSQLiteMap(config.migrations);
  const compatibilityDate = config.compatibility_date;
  if (compatibilityDate === undefined) throw new Error("the wrangler config has no compatibility_date");
  return {
    compatibilityDate,
    compatibilityFlags: config.compatibility_flags,
    durableObjects: config.durable_objects.bindings.map((b: { name: string; class_name: string }) => ({ binding: b.name, className: b.class_name, sqlite: sqlite.get(b.class_name) === true })),
    vars,
  };
}

/** Writes `outDir/worker.js` (the bundled Worker), `outDir/libsodium.wasm` and `outDir/relay.json`; returns outDir. */
export async function bundleWorker(outDir: string): Promise<string> {
  generateLibsodium();
  mkdirSync(outDir, { recursive: true });
  const cwd = process.cwd();
  process.chdir(ROOT); // unstable_readConfig finds the config from the working directory
  let config: RelayWorkerConfig;
  try {
    config = wranglerConfig();
  } finally {
    process.chdir(cwd);
  }
  await build({
    entryPoints: [join(ROOT, "src/server/worker.ts")],
    outfile: join(outDir, "worker.js"),
    bundle: true,
    format: "esm",
    // As wrangler bundles for workerd: neutral platform, the packages' worker/browser builds.
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    target: "es2022",
    external: ["cloudflare:*", "node:*"],
    // `import wasm from "./generated/libsodium.wasm"` becomes `import wasm from "./libsodium.wasm"`.
    loader: { ".wasm": "copy" },
    assetNames: "[name]",
    legalComments: "inline",
    logLevel: "warning",
  });
  writeFileSync(join(outDir, "relay.json"), JSON.stringify(config, null, 2) + "\n");
  return outDir;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const out = resolve(process.argv[2] ?? join(ROOT, "dist/worker"));
  await bundleWorker(out);
  console.log(`bundled the Worker into ${out}`);
}
