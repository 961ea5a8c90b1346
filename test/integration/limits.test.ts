// Per-connection abuse limits, each configurable and each answered clearly: a handshake deadline
// (enforced with the Session object's alarm), a bound on blocks waiting to be handled, a rate
// limit on NEW and a cap on subscriptions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect, type SMPClient } from "../../src/client/client.js";
import { SMPProtocolError } from "../../src/client/errors.js";
import { createQueue, deleteQueue, queueInfo, sendMessage, subscribe } from "../../src/client/queues.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { encodeBatch, packBatches } from "../../src/protocol/batch.js";
import { encodeCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { encodeClientTransmission, encodeSigned } from "../../src/protocol/transmission.js";
import { randomBytes } from "../../src/crypto/random.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

let relay: TestRelay;
let keyHash: Uint8Array;

beforeAll(async () => {
  relay = await startLocalTestRelay({
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

  it("answers the commands of blocks past MAX_PENDING_BLOCKS with ERR QUOTA, runs none of them, and keeps a fast client", async () => {
    const fast = await open();
    const owner = await open();
    const q = await createQueue(owner, { subscribe: false });
    // 40 blocks of one SEND each (each needs a Queue call), put on the wire at once.
    const replies: Promise<ServerResponse>[] = [];
    for (let i = 0; i < 40; i++) {
      const corrId = randomBytes(24);
      const t = encodeClientTransmission(new Uint8Array(0), encodeSigned(corrId, q.sndId, encodeCommand({ tag: "SEND", notify: false, body: new Uint8Array(100) })));
      replies.push(fast.expectReply(corrId));
      fast.sendFrame(fast.sealBlock(encodeBatch([t])));
    }
    const got = await Promise.all(replies);
    const ok = got.filter((r) => r.tag === "OK").length;
    const refused = got.filter((r) => r.tag === "ERR" && r.code === "QUOTA").length;
    expect(ok + refused).toBe(40);
    expect(refused).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(0);
    // Only the SENDs answered OK were stored.
    expect((await queueInfo(owner, q)).qiSize).toBe(ok);
    expect(fast.isOpen).toBe(true);
    await fast.ping();
    fast.close();
    owner.close();
  });

  it("closes a connection that floods blocks faster than even refusing them keeps up", async () => {
    const victim = await open();
    const other = await open();
    const owner = await open();
    const q = await createQueue(owner, { subscribe: false });
    // A first block as full of SENDs to one queue as fits (they run one after another), then 600
    // blocks, sealed first and written in one go: they pile up behind it, far past twice
    // MAX_PENDING_BLOCKS. (Blocks that are only refused are handled as fast as they arrive, so on
    // a busy machine one round may not pile up enough: rounds go on until the relay closes.)
    const send = (bytes: number): Uint8Array =>
      encodeClientTransmission(new Uint8Array(0), encodeSigned(randomBytes(24), q.sndId, encodeCommand({ tag: "SEND", notify: false, body: new Uint8Array(bytes) })));
    let ended = false;
    const closedPromise = victim.closed.then((c) => {
      ended = true;
      return c;
    });
    for (let round = 0; round < 8 && !ended; round++) {
      const frames: Uint8Array[] = [victim.sealBlock(encodeBatch(packBatches(Array.from({ length: 400 }, () => send(10)))[0]!))];
      for (let i = 0; i < 600; i++) frames.push(victim.sealBlock(encodeBatch([send(100)])));
      for (const f of frames) if (!ended) victim.sendFrame(f);
      await Promise.race([closedPromise, new Promise((r) => setTimeout(r, 3000))]);
    }
    expect(ended, "the relay never closed the flooding connection in 8 rounds").toBe(true);
    const closed = await closedPromise;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe("too many pending blocks");
    // The others are unaffected (the flooded queue itself is full by now: another one).
    await other.ping();
    await sendMessage(other, (await createQueue(owner, { subscribe: false })).sndId, new Uint8Array(10));
    other.close();
    owner.close();
  });
});
