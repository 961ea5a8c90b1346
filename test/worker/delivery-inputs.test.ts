// The small inputs of issue 10 that stopped delivery silently, each against the real objects in
// workerd: a GET reader beside a subscriber, an ACK of a message that expired while delivered, a
// late END from an older takeover, and a close during an in-flight SUB. Expected replies are
// upstream's (Server.hs acknowledgeMsg / tryDelMsg / tryDelPeekMsg, subscribeQueue; WIRE.md 6.8).
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createQueue, queueInfo, sendMessage, subscribe, type RecipientQueue } from "../../src/client/queues.js";
import { base64 } from "../../src/protocol/base64.js";
import { encodeBatch } from "../../src/protocol/batch.js";
import { encodeCommand } from "../../src/protocol/commands.js";
import { encodeClientTransmission, encodeSigned, transmissionForAuth } from "../../src/protocol/transmission.js";
import { makeAuthenticator } from "../../src/crypto/authenticator.js";
import { randomBytes } from "../../src/crypto/random.js";
import { holdQueueReplies, queueObjectOf } from "./objects.js";
import { closeAll, open, rcv, said, until, watch, type Conn } from "./watched-conn.js";

const utf8 = new TextEncoder();

/** The msgId of the last MSG pushed to `c` for `q`, read from its Queue object's head. */
async function headId(q: RecipientQueue): Promise<Uint8Array> {
  const { stub } = await queueObjectOf(q.rcvId);
  return runInDurableObject(stub, (_i, state) => new Uint8Array(state.storage.sql.exec<{ m: ArrayBuffer }>("SELECT msg_id AS m FROM msg ORDER BY seq LIMIT 1").one().m));
}

/** Moves the expiry of the oldest `n` stored messages into the past: the clock moved on. */
async function expireOldest(q: RecipientQueue, n: number): Promise<void> {
  const { stub } = await queueObjectOf(q.rcvId);
  await runInDurableObject(stub, (_i, state) => {
    state.storage.sql.exec("UPDATE msg SET expires = ? WHERE seq IN (SELECT seq FROM msg ORDER BY seq LIMIT ?)", Date.now() - 1000, n);
  });
}

async function setup(): Promise<{ a: Conn; b: Conn; s: Conn; q: RecipientQueue; send: (body: string) => Promise<void> }> {
  const a = await open();
  const q = await createQueue(a.client, { subscribe: true });
  watch(a, q);
  const [b, s] = await Promise.all([open(q), open()]);
  return { a, b, s, q, send: (body) => sendMessage(s.client, q.sndId, utf8.encode(body)) };
}


describe("a GET reader beside the subscriber (issue 10, input 1)", () => {
  it("the subscriber's ACK of a message the reader already ACKed answers the next message", async () => {
    const { a, b, s, q, send } = await setup();
    await send("m1");
    await send("m2");
    await until("m1 pushed to A", () => a.pushes.length === 1);
    expect(a.pushes).toEqual(["MSG m1"]);
    const m1 = await headId(q);
    expect(said(q, await rcv(b, q, { tag: "GET" }))).toBe("MSG m1");
    expect(said(q, await rcv(b, q, { tag: "ACK", msgId: m1 }))).toBe("OK");
    // A was given m1 and never ACKed it: its ACK names it, and m2 comes back.
    expect(said(q, await rcv(a, q, { tag: "ACK", msgId: m1 }))).toBe("MSG m2");
    // And delivery goes on: m3 waits for the ACK of m2.
    const m2 = await headId(q);
    await send("m3");
    expect(said(q, await rcv(a, q, { tag: "ACK", msgId: m2 }))).toBe("MSG m3");
    expect(said(q, await rcv(a, q, { tag: "ACK", msgId: await headId(q) }))).toBe("OK");
    await send("m4");
    await until("m4 pushed to A", () => a.pushes.includes("MSG m4"));
    expect(a.pushes).toEqual(["MSG m1", "MSG m2", "MSG m3", "MSG m4"]);
    closeAll(a, b, s);
  });

  it("the reader's ACK of a message the subscriber already ACKed is OK and deletes nothing", async () => {
    const { a, b, s, q, send } = await setup();
    await send("m1");
    await send("m2");
    await until("m1 pushed to A", () => a.pushes.length === 1);
    const m1 = await headId(q);
    expect(said(q, await rcv(b, q, { tag: "GET" }))).toBe("MSG m1");
    expect(said(q, await rcv(a, q, { tag: "ACK", msgId: m1 }))).toBe("MSG m2");
    expect(said(q, await rcv(b, q, { tag: "ACK", msgId: m1 }))).toBe("OK");
    // m2 is still there, still delivered to A.
    expect((await queueInfo(a.client, q)).qiSize).toBe(1);
    expect(said(q, await rcv(a, q, { tag: "ACK", msgId: await headId(q) }))).toBe("OK");
    // The reader's delivered message is spent: another ACK of it is NO_MSG.
    expect(said(q, await rcv(b, q, { tag: "ACK", msgId: m1 }))).toBe("ERR NO_MSG");
    closeAll(a, b, s);
  });
});

describe("an ACK of a message that expired while delivered (issue 10, input 2)", () => {
  for (const how of ["alarm", "lazily"] as const) {
    it(`answers the next message (expired ${how === "alarm" ? "by the alarm" : "when the queue is next read"})`, async () => {
      const { a, s, q, send } = await setup();
      await send("m1");
      await until("m1 pushed to A", () => a.pushes.length === 1);
      const m1 = await headId(q);
      await send("m2");
      await expireOldest(q, 1);
      if (how === "alarm") expect(await runDurableObjectAlarm((await queueObjectOf(q.rcvId)).stub)).toBe(true);
      // What A was given is still m1, not m2 (which was never sent to it).
      const info = await queueInfo(a.client, q);
      expect(info.qiSub?.qDelivered).toBe(base64.encode(m1));
      expect(info.qiSize).toBe(1);
      expect(said(q, await rcv(a, q, { tag: "ACK", msgId: m1 }))).toBe("MSG m2");
      expect(said(q, await rcv(a, q, { tag: "ACK", msgId: await headId(q) }))).toBe("OK");
      closeAll(a, s);
    });
  }

  it("when everything expired, a later message waits for that ACK instead of being lost to it", async () => {
    const { a, s, q, send } = await setup();
    await send("m1");
    await until("m1 pushed to A", () => a.pushes.length === 1);
    const m1 = await headId(q);
    await expireOldest(q, 1);
    expect(await runDurableObjectAlarm((await queueObjectOf(q.rcvId)).stub)).toBe(true);
    await send("m2");
    // Not pushed: A still holds m1 unacknowledged (upstream: one outstanding message). A PING
    // round trip on A's connection lets a push, had there been one, arrive first.
    await new Promise((r) => setTimeout(r, 100));
    await a.client.ping();
    expect(a.pushes).toEqual(["MSG m1"]);
    expect(said(q, await rcv(a, q, { tag: "ACK", msgId: m1 }))).toBe("MSG m2");
    closeAll(a, s);
  });
});

describe("a late END from an older takeover (issue 10, input 3)", () => {
  it("an END for an older subscription generation is dropped by the Session and the newer SUB keeps the queue", async () => {
    const { a, b, s, q, send } = await setup();
    // A holds generation 1 (NEW subscribed it). B takes over (2): END to A. A takes it back (3).
    expect(said(q, await rcv(b, q, { tag: "SUB" }))).toBe("SOK");
    await until("END to A", () => a.pushes.includes("END"));
    expect(said(q, await rcv(a, q, { tag: "SUB" }))).toBe("SOK");
    await until("END to B", () => b.pushes.includes("END"));
    // The END of the first takeover arrives again, late: A's Session refuses it, A hears nothing.
    const { name } = await queueObjectOf(q.rcvId);
    const before = a.pushes.length;
    expect(await runInDurableObject(a.session, (inst) => inst.push(name, q.rcvId, { tag: "END" }, 1))).toBe(false);
    await send("after");
    await until("the message reaches A", () => a.pushes.length > before);
    expect(a.pushes.slice(before)).toEqual(["MSG after"]);
    expect(b.pushes.at(-1)).toBe("END");
    closeAll(a, b, s);
  });

  it("40 rounds of a takeover SUB raced by the old subscriber's SUB 1-8 ms later: the SUB the queue saw last holds, the other ends with END, the next message reaches the holder", async () => {
    const { a, b, s, q, send } = await setup();
    const { stub } = await queueObjectOf(q.rcvId);
    const subscriber = (): Promise<string | null> =>
      runInDurableObject(stub, (_i, state) => state.storage.sql.exec<{ s: string | null }>("SELECT subscriber AS s FROM queue").one().s);
    // B subscribes first; then each round A takes over and B answers with its own SUB.
    expect(said(q, await rcv(b, q, { tag: "SUB" }))).toBe("SOK");
    await until("END to A", () => a.pushes.at(-1) === "END");
    let bLast = 0;
    for (let round = 0; round < 40; round++) {
      const mark = { a: a.pushes.length, b: b.pushes.length };
      const takeover = rcv(a, q, { tag: "SUB" });
      await new Promise((r) => setTimeout(r, 1 + (round % 8)));
      const again = rcv(b, q, { tag: "SUB" });
      expect([said(q, await takeover), said(q, await again)]).toEqual(["SOK", "SOK"]);
      // Which SUB the queue handled last decides; it is almost always B's, sent later.
      const holder = (await subscriber()) === b.session.id.toString() ? b : a;
      const other = holder === b ? a : b;
      if (holder === b) bLast++;
      await until(`round ${round}: END to the other`, () => other.pushes.length > (other === a ? mark.a : mark.b) && other.pushes.at(-1) === "END");
      const body = `round ${round}`;
      await send(body);
      await until(`round ${round}: the message reaches the holder`, () => holder.pushes.includes(`MSG ${body}`));
      expect(holder.pushes.at(-1)).toBe(`MSG ${body}`);
      expect(other.pushes.at(-1)).toBe("END");
      expect(said(q, await rcv(holder, q, { tag: "ACK", msgId: await headId(q) }))).toBe("OK");
      // Back to the starting position: B subscribed, A not.
      if (holder === a) {
        expect(said(q, await rcv(b, q, { tag: "SUB" }))).toBe("SOK");
        await until(`round ${round}: END to A`, () => a.pushes.at(-1) === "END");
      }
    }
    // The race itself happened: B's later SUB was the last one the queue saw in most rounds.
    expect(bLast).toBeGreaterThan(20);
    closeAll(a, b, s);
  });
});

/** The tables a Session object keeps (the runtime's own `_cf_` ones aside). */
function tablesOf(c: Conn): Promise<string[]> {
  return runInDurableObject(c.session, (_i, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'")
      .toArray()
      .map((r) => r.name),
  );
}

/** A SUB for `q` put on the wire as one block, outside the client's own bookkeeping. */
async function subFrame(c: Conn, q: RecipientQueue): Promise<Uint8Array> {
  const corrId = randomBytes(24);
  const signed = encodeSigned(corrId, q.rcvId, encodeCommand({ tag: "SUB" }));
  const auth = await makeAuthenticator(c.client.serverSessionKey, q.rcvAuthKey.privateKey, corrId, transmissionForAuth(c.client.sessionId, signed));
  return c.client.sealBlock(encodeBatch([encodeClientTransmission(auth, signed)]));
}


describe("a close during an in-flight SUB (issue 10, input 4)", () => {
  it("a SUB whose reply comes back after the socket closed writes nothing: the Session object keeps no storage", async () => {
    const owner = await open();
    const q = await createQueue(owner.client, { subscribe: false });
    const c = await open();
    const replies = await holdQueueReplies(c.session);
    c.client.sendFrame(await subFrame(c, q));
    // The queue has taken the subscription; its reply is held on the way back.
    const { stub } = await queueObjectOf(q.rcvId);
    for (let i = 0; i < 200; i++) {
      const subscriber = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec<{ s: string | null }>("SELECT subscriber AS s FROM queue").one().s);
      if (subscriber === c.session.id.toString()) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    c.client.close();
    // Time for the close to reach the Session while the SUB is still in flight, then the reply.
    await new Promise((r) => setTimeout(r, 100));
    replies.release();
    let tables = ["?"];
    for (let wait = 0; wait < 200 && tables.length > 0; wait++) {
      await new Promise((r) => setTimeout(r, 10));
      tables = await tablesOf(c);
    }
    expect(tables).toEqual([]);
    closeAll(owner);
  });

  it("30 times: the closed connection's Session object keeps no storage, and the queue still delivers", async () => {
    const owner = await open();
    const q = await createQueue(owner.client, { subscribe: false });
    const s = await open();
    for (let i = 0; i < 30; i++) {
      const c = await open();
      c.client.sendFrame(await subFrame(c, q));
      // At once, or a few ms later: while the SUB is being handled, or on its way to the queue.
      if (i % 6 > 0) await new Promise((r) => setTimeout(r, i % 6));
      c.client.close();
      let tables: string[] = ["?"];
      for (let wait = 0; wait < 200 && tables.length > 0; wait++) {
        await new Promise((r) => setTimeout(r, 10));
        tables = await tablesOf(c);
      }
      expect(tables, `try ${i}`).toEqual([]);
      expect(await runInDurableObject(c.session, (_i, state) => state.storage.getAlarm()), `try ${i}`).toBeNull();
    }
    // The queue is not stuck on a closed subscriber: a new one gets what is sent.
    const r = await open(q);
    await subscribe(r.client, q);
    await sendMessage(s.client, q.sndId, utf8.encode("still here"));
    await until("delivered to the new subscriber", () => r.pushes.includes("MSG still here"));
    closeAll(owner, s, r);
  });
});

describe("the quota marker at expiry (found beside issue 10: upstream deleteExpiredMsgs stops at it)", () => {
  it("outlives the messages before it, so the recipient still learns that its sender was told QUOTA", async () => {
    const owner = await open();
    const q = await createQueue(owner.client, { subscribe: false });
    watch(owner, q);
    const s = await open();
    const quota = Number(env.QUEUE_QUOTA ?? 128);
    await Promise.all(Array.from({ length: quota }, (_, i) => sendMessage(s.client, q.sndId, utf8.encode(`m${i}`))));
    await expect(sendMessage(s.client, q.sndId, utf8.encode("refused"))).rejects.toMatchObject({ code: "QUOTA" });
    // Every stored row, the marker included, is past its expiry; the alarm runs.
    await expireOldest(q, quota + 1);
    expect(await runDurableObjectAlarm((await queueObjectOf(q.rcvId)).stub)).toBe(true);
    expect((await queueInfo(owner.client, q)).qiSize).toBe(1);
    // Still QUOTA for the sender until the recipient has taken the marker.
    await expect(sendMessage(s.client, q.sndId, utf8.encode("still refused"))).rejects.toMatchObject({ code: "QUOTA" });
    await subscribe(owner.client, q);
    await until("the marker is delivered", () => owner.pushes.length === 1);
    expect(owner.pushes).toEqual(["MSG QUOTA"]);
    expect(said(q, await rcv(owner, q, { tag: "ACK", msgId: await headId(q) }))).toBe("OK");
    await sendMessage(s.client, q.sndId, utf8.encode("again"));
    await until("writing resumed", () => owner.pushes.includes("MSG again"));
    closeAll(owner, s);
  });
});
