// New connections per client address (src/server/connectionLimit.ts): under `wrangler dev`, where
// the rate-limiting binding CONNECTIONS_PER_IP of wrangler.jsonc is simulated (120 a minute) and
// every local connection has the same address, the 121st upgrade within the minute is refused
// with 429 before any object is made; the function itself is checked with a fake binding.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectionRefused } from "../../src/server/connectionLimit.js";
import { startRelay, type RunningRelay } from "../helpers/relay.js";

let relay: RunningRelay;

beforeAll(async () => {
  relay = await startRelay();
}, 120_000);

afterAll(async () => {
  await relay?.stop();
});

/** A WebSocket upgrade, closed at once: its HTTP status (101 when accepted). */
function upgrade(): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(relay.wsUrl);
    ws.on("open", () => {
      ws.close();
      resolve(101);
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on("error", reject);
  });
}

describe("connections per address", () => {
  it("refuses upgrades past the binding's limit with 429", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) statuses.push(await upgrade());
    expect(statuses.slice(0, 120).every((s) => s === 101)).toBe(true);
    expect(statuses.slice(120).every((s) => s === 429)).toBe(true);
    // Plain HTTP is not counted.
    expect((await fetch(relay.httpUrl + "/health")).status).toBe(200);
  }, 120_000);

  it("is off without the binding, without an address, or with LIMIT_CONNECTIONS_PER_IP=false", async () => {
    const calls: string[] = [];
    const binding = { CONNECTIONS_PER_IP: { limit: async ({ key }: { key: string }) => (calls.push(key), { success: false }) } };
    const from = (ip: string | null): Request => new Request("https://relay.example/", { headers: ip === null ? {} : { "CF-Connecting-IP": ip } });
    expect(await connectionRefused(from("203.0.113.7"), binding, true)).toBe(true);
    expect(calls).toEqual(["203.0.113.7"]);
    expect(await connectionRefused(from("203.0.113.7"), binding, false)).toBe(false);
    expect(await connectionRefused(from(null), binding, true)).toBe(false);
    expect(await connectionRefused(from("203.0.113.7"), {}, true)).toBe(false);
    expect(calls).toHaveLength(1);
  });
});
