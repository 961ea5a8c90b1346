// The relay bundled for the harness (scripts/buildWorker.ts: libsodium.wasm copied next to
// worker.js, a compiled module under Miniflare's rules) runs its secretbox on libsodium, and so
// does a Node client after useNodeLibsodium: a message makes the round trip between the two.
import { afterAll, describe, expect, it } from "vitest";
import { useNodeLibsodium } from "../../src/client/nodeCrypto.js";
import { createQueue, getMessage, sendMessage } from "../../src/client/queues.js";
import { secretboxBackend, useNobleSecretbox } from "../../src/crypto/secretboxBackend.js";
import { relayForFile } from "../helpers/relayClients.js";

const relay = relayForFile({ RELAY_DEBUG_METRICS: true });
afterAll(() => useNobleSecretbox());

describe("libsodium on both ends", () => {
  it("a message goes through a relay on libsodium from and to a client on libsodium", async () => {
    expect(await useNodeLibsodium()).toBe(true);
    expect(secretboxBackend()).toBe("libsodium");
    const c = await relay.client();
    const q = await createQueue(c, { subscribe: false });
    const body = new Uint8Array(15_000).map((_, i) => i & 0xff);
    await sendMessage(c, q.sndId, body);
    const got = await getMessage(c, q);
    expect(got?.quota).not.toBe(true);
    expect(got !== null && !got.quota ? got.body : null).toEqual(body);
    const metrics = (await (await fetch(`${relay.relay().httpUrl}/debug/metrics`)).json()) as { cipher?: string };
    expect(metrics.cipher).toBe("libsodium");
  });
});
