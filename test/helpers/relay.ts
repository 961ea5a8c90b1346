// Starts the relay as `npm run dev` does (wrangler dev → workerd) on 127.0.0.1 with a port of its
// own and a storage directory of its own, for the bench, the load script and the tests about
// wrangler itself (a killed process, secrets from an env file, its log); tests of the relay's
// behaviour use our harness instead (localRelay.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface RunningRelay {
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  /** ws://127.0.0.1:PORT/ */
  wsUrl: string;
  persistTo: string;
  process: ChildProcess;
  /** Output so far, for diagnostics. */
  log(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Storage directory; reuse one to restart the same relay. One given here is kept; one made
   * by startRelay is removed by stop().
   */
  persistTo?: string;
  port?: number;
  /** Extra `--var NAME:VALUE` bindings. */
  vars?: Record<string, string>;
  /**
   * A dotenv file of secrets, passed as `--env-file` (wrangler then reads it instead of
   * .dev.vars). By default an empty one: a developer's own .dev.vars never reaches the tests.
   */
  envFile?: string;
  /** Ready once /health answers at all, even 500 (a relay refusing a bad config). Default: 200 only. */
  allowUnhealthy?: boolean;
  /** The DevTools inspector's port (bench/profile.ts); by default any free one. */
  inspectorPort?: number;
  /**
   * Another Worker's wrangler.toml, relative to the repository root (the bench's baselines and
   * ops Worker); by default the relay's own. Such a Worker gets no --env-file.
   */
  config?: string;
  /** The path that answers once the Worker is up (default /health). */
  readyPath?: string;
  /** For error messages (default "wrangler dev"). */
  label?: string;
}

const ROOT = resolve(import.meta.dirname, "../..");

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? res(a.port) : rej(new Error("no port"))));
    });
  });
}

export async function startRelay(opts: StartOptions = {}): Promise<RunningRelay> {
  const port = opts.port ?? (await freePort());
  const ownStorage = opts.persistTo === undefined;
  const persistTo = opts.persistTo ?? mkdtempSync(join(tmpdir(), "smp-relay-"));
  const label = opts.label ?? "wrangler dev";
  const args = ["dev", ...(opts.config ? ["-c", join(ROOT, opts.config)] : []), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistTo, "--inspector-port", String(opts.inspectorPort ?? 0), "--show-interactive-dev-session=false"];
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  if (!opts.config) args.push("--env-file", opts.envFile ?? emptyEnvFile());
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    // No telemetry and no Request.cf download: the relay talks to 127.0.0.1 only.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${label} exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      killGroup(child);
      throw new Error(`${label} did not become ready:\n${out}`);
    }
    try {
      const r = await fetch(`${httpUrl}${opts.readyPath ?? "/health"}`);
      await r.arrayBuffer();
      if (r.ok || (opts.allowUnhealthy && r.status === 500)) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}/`,
    persistTo,
    process: child,
    log: () => out,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        killGroup(child);
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) killGroup(child, "SIGKILL");
      }
      if (ownStorage) rmSync(persistTo, { recursive: true, force: true });
    },
  };
}

function emptyEnvFile(): string {
  const path = join(tmpdir(), "smp-relay-test-empty.env");
  if (!existsSync(path)) writeFileSync(path, "");
  return path;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * The first workerd process under the wrangler process. wrangler dev runs two (its proxy on the
 * public port, and the one running our Worker); bench/proc.ts tells them apart.
 */
export function workerdPid(relay: RunningRelay): number | null {
  const root = relay.process.pid;
  if (!root) return null;
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      // process ended while we looked
    }
  }
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "workerd") return pid;
    } catch {
      // gone
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return null;
}

/** CPU time (user + system) of a process so far, in milliseconds. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}
