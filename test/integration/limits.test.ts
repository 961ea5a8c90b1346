// Per-connection abuse limits, each configurable and each answered clearly: a handshake deadline
// (enforced with the Session object's alarm), a bound on blocks waiting to be handled, a rate
// limit on NEW and a cap on subscriptions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect, type SMPClient } from "../../src/client/client.js";
import { SMPProtocolError } from "../../src/client/errors.js";
import { createQueue, deleteQueue, sendMessage, subscribe } from "../../src/client/queues.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { encodeBatch } from "../../src/protocol/batch.js";
import { encodeCommand } from "../../src/protocol/commands.js";
import { encodeClientTransmission, encodeSigned } from "../../src/protocol/transmission.js";
import { randomBytes } from "../../src/crypto/random.js";
import { startRelay, type RunningRelay } from "../helpers/relay.js";

let relay: RunningRelay;
let keyHash: Uint8Array;

beforeAll(async () => {
  relay = await startRelay({
    vars: { HANDSHAKE_TIMEOUT_SECONDS: "6", MAX_PENDING_BLOCKS: "2", NEW_QUEUES_PER_MINUTE: "3", MAX_SUBSCRIPTIONS: "2" },
  });
  keyHash = parseAddress(((await (await fetch(`${relay.httpUrl}/health`)).json()) as { address: string }).address).keyHash;
});

afterAll(async () => {
  await relay?.stop();
});

const open = (): Promise<SMPClient> =>
  connect(relay.wsUrl, keyHash, { WebSocket: WebSocket as unknown as WebSocketConstructor, pingInterval: 0 });

const quota = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: "QUOTA" } satisfies Partial<SMPProtocolError>);

describe("limits", () => {
  it("closes a connection that does not send its hello in time, and only that one", async () => {
    const c = await open();
    const ws = new WebSocket(relay.wsUrl);
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on("close", (code: number, reason: Buffer) => r({ code, reason: reason.toString() })));
    expect(await closed).toEqual({ code: 1008, reason: "handshake timeout" });
    // The other connection finished its handshake long ago and is not touched.
    await new Promise((r) => setTimeout(r, 500));
    await c.ping();
    c.close();
  });

  it("rate-limits NEW per connection with ERR QUOTA", async () => {
    const c = await open();
    for (let i = 0; i < 3; i++) await createQueue(c, { subscribe: false });
    await quota(createQueue(c, { subscribe: false }));
    // Another connection has its own allowance.
    const d = await open();
    await createQueue(d, { subscribe: false });
    c.close();
    d.close();
  });

  it("caps the subscriptions of one connection with ERR QUOTA, and frees a place on DEL", async () => {
    const owner = await open();
    const a = await createQueue(owner, { subscribe: false });
    const b = await createQueue(owner, { subscribe: false });
    const cq = await createQueue(owner, { subscribe: false });
    const sub = await open();
    await subscribe(sub, a);
    await subscribe(sub, b);
    await subscribe(sub, a); // already subscribed: not a new place
    await quota(subscribe(sub, cq));
    await deleteQueue(sub, b);
    await subscribe(sub, cq);
    // NEW with subscribe counts too.
    await quota(createQueue(sub, { subscribe: true }));
    owner.close();
    sub.close();
  });

  it("closes a connection that floods blocks faster than they are handled", async () => {
    const victim = await open();
    const other = await open();
    const owner = await open();
    const q = await createQueue(owner, { subscribe: false });
    // 40 blocks of SENDs (each needs a Queue call) put on the wire at once.
    for (let i = 0; i < 40; i++) {
      const corrId = randomBytes(24);
      const t = encodeClientTransmission(new Uint8Array(0), encodeSigned(corrId, q.sndId, encodeCommand({ tag: "SEND", notify: false, body: new Uint8Array(100) })));
      victim.sendFrame(victim.sealBlock(encodeBatch([t])));
    }
    const closed = await victim.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe("too many pending blocks");
    await other.ping();
    await sendMessage(other, q.sndId, new Uint8Array(10));
    other.close();
    owner.close();
  });
});
