// A Session object can lose its in-memory state between any two frames (hibernation, eviction):
// the conversation must carry on from the socket attachment alone.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { encodeBatch } from "../../src/protocol/batch.js";
import { encodeCommand } from "../../src/protocol/commands.js";
import { encodeClientTransmission, encodeSigned } from "../../src/protocol/transmission.js";
import { randomBytes } from "../../src/crypto/random.js";
import { SessionDO } from "../../src/server/session.js";
import { openWithSession } from "./session-of.js";

/** Connects our client and finds the Session object the Worker created for it. */
async function open(): Promise<{ client: SMPClient; stub: DurableObjectStub<SessionDO> }> {
  const { client, session } = await openWithSession();
  return { client, stub: session };
}

describe("session state survives losing the object", () => {
  it("answers a PING handled by a brand-new SessionDO instance built from the same state", async () => {
    const { client, stub } = await open();
    await client.ping();

    // Build the next PING block by hand, then hand it to a fresh instance: exactly what the
    // runtime does after hibernation (constructor again, same sockets and attachments).
    const corrId = randomBytes(24);
    const pong = client.expectReply(corrId);
    const frame = client.sealBlock(
      encodeBatch([encodeClientTransmission(new Uint8Array(0), encodeSigned(corrId, new Uint8Array(0), encodeCommand({ tag: "PING" })))]),
    );
    await runInDurableObject(stub, async (_instance, state) => {
      const fresh = new SessionDO(state, env);
      const [ws] = state.getWebSockets();
      await fresh.webSocketMessage(ws!, frame.slice().buffer);
    });
    expect(await pong).toEqual({ tag: "PONG" });
    client.close();
  });

  it("keeps answering after the runtime evicts the idle object", async () => {
    const { client, stub } = await open();
    await client.ping();
    const before = await runInDurableObject(stub, (instance) => instance);
    // workerd evicts an idle object after 10 s; hibernatable sockets stay open meanwhile.
    await new Promise((r) => setTimeout(r, 11_500));
    const after = await runInDurableObject(stub, (instance) => instance);
    expect(after).not.toBe(before);
    await client.ping();
    await client.ping();
    client.close();
  });
});
