// The Worker as it would deploy (issue 13): `wrangler deploy --dry-run` builds it offline, and the
// bench reports the files it would upload, raw and gzipped (what Cloudflare's size limits count).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = resolve(import.meta.dirname, "..");

export interface BundleSize {
  /** Every uploaded module, KiB. */
  totalKiB: number;
  gzipKiB: number;
  /** The WebAssembly among them (libsodium), KiB. */
  wasmKiB: number;
}

/** Builds the Worker with `wrangler deploy --dry-run` into a temporary directory and sizes it. Throws when the build fails. */
export function workerBundleSize(): BundleSize {
  const out = mkdtempSync(join(tmpdir(), "smp-bundle-"));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };
    delete env.CLOUDFLARE_API_TOKEN;
    delete env.CLOUDFLARE_ACCOUNT_ID;
    const r = spawnSync(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${r.stdout}\n${r.stderr}`);
    let total = 0;
    let gzip = 0;
    let wasm = 0;
    for (const f of readdirSync(out)) {
      if (f.endsWith(".map") || f === "README.md") continue;
      const b = readFileSync(join(out, f));
      total += b.length;
      gzip += gzipSync(b).length;
      if (f.endsWith(".wasm")) wasm += b.length;
    }
    return { totalKiB: total / 1024, gzipKiB: gzip / 1024, wasmKiB: wasm / 1024 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The bench's JSON keys for it, and its line in the printed report. */
export function reportBundleSize(s: BundleSize): Record<string, number> {
  console.log(`\nThe Worker as it deploys: ${s.totalKiB.toFixed(1)} KiB, ${s.gzipKiB.toFixed(1)} KiB gzipped (of which libsodium's WebAssembly ${s.wasmKiB.toFixed(1)} KiB)`);
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  return { worker_bundle_kib: r1(s.totalKiB), worker_bundle_gzip_kib: r1(s.gzipKiB), worker_wasm_kib: r1(s.wasmKiB) };
}
