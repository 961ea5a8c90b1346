// `npm run dev` (scripts/dev.ts): refuses to start on a bad config var or identity secret,
// naming it, or on a port that is taken; otherwise starts wrangler dev, prints the relay's
// address once /health answers, and stops wrangler when it is stopped itself.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { base64url } from "../../src/protocol/base64.js";
import { createIdentity, writeDevVars } from "../../src/cli/identity.js";
import { freePort } from "../helpers/relay.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) {
    try {
      if (c.pid && c.exitCode === null) process.kill(-c.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "smp-relay-dev-"));
  dirs.push(d);
  return d;
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function runDev(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/dev.ts", "--inspector-port", "0", ...args], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, output: () => out, exit };
}

async function listening(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/health`);
    return true;
  } catch {
    return false;
  }
}

describe("npm run dev", () => {
  it("refuses to start with a bad config var or identity secret, naming it", async () => {
    const port = await freePort();
    const quota = runDev(["--port", String(port), "--var", "QUEUE_QUOTA:-1"]);
    expect(await quota.exit).toBe(1);
    expect(quota.output()).toContain('QUEUE_QUOTA must be a whole number from 1 to 10000, got "-1"');
    expect(quota.output()).not.toContain("Ready on"); // wrangler never started

    const dir = tempDir();
    const { secrets } = await createIdentity({ outDir: join(dir, "ca") });
    const env = join(dir, "bad.env");
    writeDevVars(env, { ...secrets, RELAY_ONLINE_KEY: "ed25519:AAAA" });
    const secret = runDev(["--port", String(port), "--env-file", env]);
    expect(await secret.exit).toBe(1);
    expect(secret.output()).toContain("RELAY_ONLINE_KEY: an ed25519 seed is 32 bytes, this one is 3");
    expect(await listening(port)).toBe(false);
  });

  it("refuses a port that is taken instead of announcing whatever answers there", async () => {
    // A stand-in for another relay: its /health looks like ours.
    const other = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: "ok", address: "smp://other-relay@127.0.0.1" }));
    });
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    const port = (other.address() as AddressInfo).port;
    try {
      const run = runDev(["--port", String(port)]);
      expect(await run.exit).toBe(1);
      expect(run.output()).toContain(`npm run dev: port ${port} on 127.0.0.1 is taken`);
      expect(run.output()).not.toContain("other-relay");
      expect(run.output()).not.toContain("SMP relay is running");
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it("starts the relay with the secrets, prints its address and ws:// URL, and stops with wrangler on SIGTERM", async () => {
    const dir = tempDir();
    const { secrets, identity } = await createIdentity({ outDir: join(dir, "ca") });
    const env = join(dir, ".dev.vars");
    writeDevVars(env, secrets);
    const port = await freePort();
    const run = runDev(["--port", String(port), "--persist-to", join(dir, "state"), "--env-file", env]);
    const address = `smp://${base64url.encode(identity.keyHash)}@127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (!run.output().includes("╝") && Date.now() < deadline && run.child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const out = run.output();
    expect(out).toContain(`address:    ${address}`);
    expect(out).toContain(`WebSocket:  ws://127.0.0.1:${port}/`);
    expect(out).toContain("identity:   from the secrets RELAY_CA_CERT, RELAY_ONLINE_CERT, RELAY_ONLINE_KEY");
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { address: string };
    expect(health.address.replace("localhost", "127.0.0.1")).toBe(address);

    run.child.kill("SIGTERM"); // the script only: it passes the signal on to wrangler
    const code = await Promise.race([run.exit, new Promise((r) => setTimeout(() => r("timeout"), 15_000))]);
    expect(code).not.toBe("timeout");
    await new Promise((r) => setTimeout(r, 500));
    expect(await listening(port)).toBe(false);
  });
});
