// Starts one of the bench's own Workers (bench/workerd/, bench/baselines/*/) under `wrangler dev`,
// the way startRelay (test/helpers/relay.ts) starts the relay: on 127.0.0.1, a port and a storage
// directory of its own, its process group detached so stop() ends wrangler and both workerds.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, type RunningRelay } from "../test/helpers/relay.js";

const ROOT = resolve(import.meta.dirname, "..");

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

/** The storage directory is a fresh temporary one: the caller removes it after stop(). */
export async function startBenchWorker({ config, readyPath, label, vars = {} }: BenchWorkerOptions): Promise<RunningRelay> {
  const port = await freePort();
  const persistTo = mkdtempSync(join(tmpdir(), "smp-bench-worker-"));
  const args = ["dev", "-c", join(ROOT, config), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistTo, "--inspector-port", "0", "--show-interactive-dev-session=false"];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    // No telemetry and no Request.cf download: the bench talks to 127.0.0.1 only.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const kill = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // gone
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) kill("SIGKILL");
  };
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev (${label}) exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev (${label}) did not become ready:\n${out}`);
    }
    try {
      const r = await fetch(`${httpUrl}${readyPath}`);
      await r.arrayBuffer();
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { httpUrl, wsUrl: `ws://127.0.0.1:${port}/`, persistTo, process: child, log: () => out, stop };
}
