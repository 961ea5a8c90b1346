// The relay's identity is created once and kept in local storage: its address is the same after
// a restart of the relay (here our Miniflare harness), and a client holding the old address still verifies it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect } from "../../src/client/client.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { startLocalTestRelay } from "../helpers/localRelay.js";

const address = async (httpUrl: string): Promise<string> =>
  ((await (await fetch(`${httpUrl}/health`)).json()) as { address: string }).address;

describe("identity persistence", () => {
  it("keeps the address across a restart, and only with the same storage", async () => {
    const storage = mkdtempSync(join(tmpdir(), "smp-relay-test-"));
    const first = await startLocalTestRelay({ persistTo: storage });
    const before = await address(first.httpUrl);
    await first.stop();

    const port = Number(new URL(first.httpUrl).port);
    const second = await startLocalTestRelay({ persistTo: storage, port });
    try {
      expect(await address(second.httpUrl)).toBe(before);
      const c = await connect(second.wsUrl, parseAddress(before).keyHash, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        pingInterval: 0,
      });
      await c.ping();
      c.close();
    } finally {
      await second.stop();
      rmSync(storage, { recursive: true, force: true });
    }

    const fresh = await startLocalTestRelay();
    try {
      expect(parseAddress(await address(fresh.httpUrl)).keyHash).not.toEqual(parseAddress(before).keyHash);
    } finally {
      await fresh.stop();
    }
  });
});
