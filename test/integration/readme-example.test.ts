// The README's client example, run as a reader would run it: the code block under "Using the
// client library", with only the relay's address and URL put in (a local relay from the
// harness) and `smp-relay/client` pointed at this repository's sources. It must print the
// message and exit by itself (the issue-11 report: it printed "hello" and never exited).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

const ROOT = resolve(import.meta.dirname, "../..");
let relay: TestRelay;
let dir: string;

beforeAll(async () => {
  relay = await startLocalTestRelay();
  dir = mkdtempSync(join(tmpdir(), "readme-example-"));
});

afterAll(async () => {
  await relay?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The first ```ts block after the heading. */
function codeBlockAfter(markdown: string, heading: string): string {
  const start = markdown.indexOf(heading);
  if (start < 0) throw new Error(`no "${heading}" in README.md`);
  const m = /```ts\n([\s\S]*?)```/.exec(markdown.slice(start));
  if (!m) throw new Error(`no ts code block after "${heading}"`);
  return m[1]!;
}

/** Runs an example as a reader would: its own file, the relay's address and URL put in. */
function runExample(heading: string): { stdout: string; stderr: string; status: number | null; error?: Error } {
  const example = codeBlockAfter(readFileSync(join(ROOT, "README.md"), "utf8"), heading);
  expect(example).toContain("smp://<keyHash>@127.0.0.1:8787");
  const code = example
    .replaceAll("smp://<keyHash>@127.0.0.1:8787", relay.address)
    .replaceAll("ws://127.0.0.1:8787/", relay.wsUrl)
    .replaceAll('"smp-relay/client"', JSON.stringify(pathToFileURL(join(ROOT, "src/client/index.ts")).href))
    .replaceAll('"ws"', JSON.stringify(pathToFileURL(join(ROOT, "node_modules/ws/wrapper.mjs")).href));
  const file = join(dir, `example-${heading.replace(/\W+/g, "-")}.mts`); // ESM, as in a "type": "module" project
  writeFileSync(file, code);
  return spawnSync(process.execPath, ["--import", "tsx", file], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
}

it("the README's client example prints the message and exits 0 on its own", () => {
  const run = runExample("## Using the client library");
  expect(run.error, "it did not exit within 30 s").toBeUndefined();
  expect(run.stderr).toBe("");
  expect(run.stdout).toBe("hello\n");
  expect(run.status).toBe(0);
});

it("the README's short-link example reads the address back through its link", () => {
  const run = runExample("### Short links");
  expect(run.error, "it did not exit within 30 s").toBeUndefined();
  expect(run.stderr).toBe("");
  expect(run.stdout).toBe("alice's profile\n");
  expect(run.status).toBe(0);
});
