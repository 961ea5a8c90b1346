// startLocalRelay's own promises (src/testing/): two at once, settings reach the Worker, a bad
// setting is refused with the relay's message, stop() leaves no port and no file; and the
// arguments of `smp-relay dev`, which runs it.
import { readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { parseDevArgs } from "../../src/cli/dev.js";
import { startBundledRelay } from "../../src/testing/localRelay.js";
import { readWorkerBundle } from "../../src/testing/workerConfig.js";
import { startLocalTestRelay } from "../helpers/localRelay.js";

const bundle = () => readWorkerBundle(inject("workerBundleDir"));

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

describe("startLocalRelay", () => {
  it("runs two at once, each with its own port and identity, and stop() frees the port and its files", async () => {
    const mine = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith("smp-relay-") && !f.startsWith("smp-relay-worker-"));
    const [a, b] = await Promise.all([startLocalTestRelay(), startLocalTestRelay()]);
    const made = mine();
    expect(a.httpUrl).not.toBe(b.httpUrl);
    expect(a.address).not.toBe(b.address);
    expect(a.address).toBe(`smp://${Buffer.from(a.keyHash).toString("base64url")}@${new URL(a.httpUrl).host}`);
    const ports = [a, b].map((r) => Number(new URL(r.httpUrl).port));
    await Promise.all([a.stop(), b.stop(), a.stop()]);
    for (const p of ports) expect(await portIsFree(p)).toBe(true);
    // The scratch directories of these two are gone (other tests' relays may come and go meanwhile).
    expect(mine().filter((f) => made.includes(f)).length).toBeLessThanOrEqual(made.length - 2);
  });

  it("passes settings to the Worker: the operator page shows them", async () => {
    const relay = await startLocalTestRelay({ vars: { QUEUE_QUOTA: "7" } });
    try {
      const page = await (await fetch(`${relay.httpUrl}/`)).text();
      expect(page).toMatch(/\b7\b/);
      expect(page).not.toMatch(/\b128\b/);
    } finally {
      await relay.stop();
    }
  });

  it("refuses a bad setting with the relay's message, and one the relay does not have", async () => {
    await expect(startBundledRelay(bundle(), { vars: { QUEUE_QUOTA: -1 } })).rejects.toThrow(/refused to start: QUEUE_QUOTA must be a whole number/);
    await expect(startBundledRelay(bundle(), { vars: { NOPE: 1 } as never })).rejects.toThrow(/unknown var "NOPE"/);
  });
});

describe("smp-relay dev arguments", () => {
  it("reads --port, --persist and --var, and rejects what it does not know", () => {
    expect(parseDevArgs(["--port", "9000", "--persist", "d", "--var", "QUEUE_QUOTA=4", "--var", "QUEUE_PASSWORD=a=b"])).toEqual({
      port: 9000,
      persist: "d",
      vars: { QUEUE_QUOTA: "4", QUEUE_PASSWORD: "a=b" },
    });
    expect(parseDevArgs(["--help"])).toBe("help");
    expect(parseDevArgs(["--port", "0"])).toMatch(/expected a port number/);
    expect(parseDevArgs(["--var", "NOPE=1"])).toMatch(/NAME one of/);
    expect(parseDevArgs(["--bogus"])).toMatch(/Unknown option/);
  });
});
