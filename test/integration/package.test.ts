// The package as a user gets it: `npm pack` (prepack builds dist/), installed into an empty
// temporary project with miniflare (its optional peer), ws, vitest and the types a TypeScript user
// would have. There: plain Node imports smp-relay/client and smp-relay/testing and runs a queue
// round trip, leaving no port and no file; tsc checks a consumer file and the vitest example;
// `npx smp-relay` runs; a browser bundle of the client has no node: import; and the examples
// (examples/) run as the README shows them.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const version = (name: string): string => (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

let work: string;
let project: string;

/** The environment without npm's own variables (set when the suite runs under `npm test`). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, NO_COLOR: "1", ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, timeout = 90_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(env), encoding: "utf8", timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "smp-relay-pack-"));
  run("npm", ["pack", "--pack-destination", work, "--silent"], ROOT, {}, 120_000);
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack left no tarball in ${work}`);
  project = join(work, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  const deps = [join(work, tarball), `miniflare@${version("miniflare")}`, `ws@${version("ws")}`, `vitest@${version("vitest")}`, `@types/ws@${version("@types/ws")}`, `@types/node@${version("@types/node")}`];
  run("npm", ["install", ...deps, "--prefer-offline", "--no-audit", "--no-fund"], project, {}, 120_000);
  cpSync(join(ROOT, "examples"), project, { recursive: true });
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed package in a fresh project", () => {
  it("ships dist, the bin launcher, README and SECURITY.md, not the sources or tests", () => {
    const pkg = join(project, "node_modules/smp-relay");
    expect(readdirSync(pkg).sort()).toEqual(["README.md", "SECURITY.md", "bin", "dist", "package.json"]);
    expect(readdirSync(join(pkg, "dist")).sort()).toEqual(["cli", "client", "crypto", "protocol", "server", "testing", "worker"]);
  });

  it("plain Node: imports client and testing, runs a queue round trip, leaves no port and no file", async () => {
    const scratch = join(work, "tmp");
    mkdirSync(scratch);
    writeFileSync(
      join(project, "consumer.mjs"),
      `import WebSocket from "ws";
import { connect, createQueue, getMessage, secretboxBackend, sendMessage } from "smp-relay/client";
import { useNodeLibsodium } from "smp-relay/client/node";
import { startLocalRelay } from "smp-relay/testing";
const sodium = (await useNodeLibsodium()) && secretboxBackend();
const relay = await startLocalRelay({ vars: { QUEUE_QUOTA: 5 } });
const a = await connect(relay.wsUrl, relay.keyHash, { WebSocket });
const q = await createQueue(a, { subscribe: false });
await sendMessage(a, q.sndId, new TextEncoder().encode("round trip"));
const m = await getMessage(a, q);
a.close();
await relay.stop();
console.log(JSON.stringify({ port: Number(new URL(relay.httpUrl).port), address: relay.address, body: new TextDecoder().decode(m.body), sodium }));
`,
    );
    const r = run(process.execPath, ["consumer.mjs"], project, { TMPDIR: scratch });
    const out = JSON.parse(r.stdout.trim().split("\n").pop() as string) as { port: number; address: string; body: string; sodium: string };
    expect(out.body).toBe("round trip");
    // The client's secretbox on libsodium: the dependency came with the package.
    expect(out.sodium).toBe("libsodium");
    expect(out.address).toMatch(new RegExp(`^smp://[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:${out.port}$`));
    expect(await portIsFree(out.port)).toBe(true);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("types resolve: tsc checks a consumer file and the vitest example against the shipped .d.ts", () => {
    writeFileSync(
      join(project, "consumer.ts"),
      `import { connect, createQueue, type RecipientQueue, type SMPClient } from "smp-relay/client";
import { useNodeCrypto } from "smp-relay/client/node";
import { startLocalRelay, type LocalRelay, type StartLocalRelayOptions } from "smp-relay/testing";
const options: StartLocalRelayOptions = { vars: { QUEUE_QUOTA: 4, ALLOW_NEW_QUEUES: true }, persist: "./relay-data" };
export async function demo(): Promise<[LocalRelay, SMPClient, RecipientQueue, boolean]> {
  const relay = await startLocalRelay(options);
  const keyHash: Uint8Array = relay.keyHash;
  const c = await connect(relay.wsUrl, keyHash);
  return [relay, c, await createQueue(c), useNodeCrypto()];
}
// @ts-expect-error: not a setting of the relay
export const wrong: StartLocalRelayOptions = { vars: { NOT_A_VAR: "1" } };
`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2023", "DOM"], types: ["node"], strict: true, noEmit: true, skipLibCheck: false },
        files: ["consumer.ts", "relay.test.ts"],
      }),
    );
    run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], project);
  });

  it("npx smp-relay identity --help", () => {
    const r = run("npx", ["--no-install", "smp-relay", "identity", "--help"], project);
    expect(r.stdout).toContain("smp-relay identity rotate --ca DIR");
  });

  it("the installed smp-relay dev serves a relay until Ctrl-C, then exits 130, freeing its port and files", async () => {
    const scratch = join(work, "tmp-dev");
    mkdirSync(scratch);
    const child = spawn(join(project, "node_modules/.bin/smp-relay"), ["dev", "--var", "QUEUE_QUOTA=9"], { cwd: project, env: cleanEnv({ TMPDIR: scratch }), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
    const deadline = Date.now() + 30_000;
    while (!/WebSocket URL: ws:\/\/127\.0\.0\.1:\d+\//.test(out) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const address = /relay address: (smp:\S+)/.exec(out)?.[1];
    const port = Number(/127\.0\.0\.1:(\d+)\//.exec(out)?.[1]);
    expect(address, out).toBeDefined();
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { address: string };
    expect(health.address).toBe(address);
    child.kill("SIGINT");
    expect(await exited).toBe(130); // 128 + SIGINT, as Miniflare's exit hook ends it
    expect(await portIsFree(port)).toBe(true);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("a browser bundle of smp-relay/client (the example page's script) has no node: import", async () => {
    const result = await build({ absWorkingDir: project, entryPoints: ["browser/app.js"], bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent" });
    const text = result.outputFiles[0]?.text ?? "";
    expect(text).toContain("crypto.subtle");
    expect(text).not.toMatch(/["']node:/);
    expect(Object.keys(result.metafile.inputs).some((f) => f.includes("node_modules/smp-relay/dist/client/"))).toBe(true);
  });

  it("the examples run: the Node script exits 0 and the vitest example passes", () => {
    const script = run(process.execPath, ["roundtrip.mjs"], project);
    expect(script.stdout).toContain("alice got: hello");
    const tests = run(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "relay.test.ts"], project);
    expect(tests.stdout).toMatch(/Tests\s+2 passed/);
  });
});
