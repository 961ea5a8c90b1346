// The bench scripts' command lines (bench/run.ts, load.ts, profile.ts): --help prints the usage
// and exits 0; an unknown option, a non-number or a stray argument prints what is wrong and the
// usage, and exits 2, before anything starts.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../bench/options.js";
import { HELP, parseOptions } from "../../bench/run-options.js";

const ROOT = resolve(import.meta.dirname, "../..");

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ["--import", "tsx", `bench/${script}.ts`, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // A script that started running despite bad arguments would outlive this.
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", rej);
    child.on("exit", (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

const SCRIPTS = [
  { script: "run", usage: "usage: npm run bench -- [options]", notNumber: ["--pings", "many"], stray: ["7"] },
  { script: "load", usage: "usage: npm run load -- [options]", notNumber: ["--queues", "x"], stray: ["7"] },
  { script: "profile", usage: "usage: npm run profile -- [QUEUES [MESSAGES [FILE]]]", notNumber: ["x"], stray: ["1", "10", "out.cpuprofile", "extra"] },
];

describe.each(SCRIPTS)("bench/$script.ts", ({ script, usage, notNumber, stray }) => {
  it("--help prints the usage and exits 0", async () => {
    const r = await run(script, ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(usage)).toBe(true);
    expect(r.stdout).toContain("--help");
  });

  it.each([
    ["an unknown option", ["--bogus"], /Unknown option '--bogus'/],
    ["a non-number", notNumber, /must be an integer in \d+\.\.\d+, not "(many|x)"/],
    ["a stray argument", stray, /nexpected argument/],
  ])("rejects %s with exit 2 and the usage", async (_what, args, message) => {
    const r = await run(script, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(usage);
    expect(r.stdout).toBe("");
  });
});

describe("bench/run.ts options", () => {
  it("--stats-conns and --stats-msgs size the statistics run (0 connections skips it)", () => {
    expect(parseOptions([])).toMatchObject({ statsConns: 20, statsMsgs: 10 });
    expect(parseOptions(["--stats-conns", "0", "--stats-msgs", "3"])).toMatchObject({ statsConns: 0, statsMsgs: 3 });
    expect(() => parseOptions(["--stats-msgs", "0"])).toThrow(UsageError);
    expect(HELP).toContain("--stats-conns");
  });
});
