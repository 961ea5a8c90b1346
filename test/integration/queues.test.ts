// Queues end to end: the relay in workerd (our Miniflare harness) and two or more of our clients over real
// WebSockets, through the client's queue API (src/client/queues.ts). Expected behaviour is that
// of WIRE.md sections 5–8 and issue 3. Expiry and eviction are covered by the workerd tests.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect, type SMPClient } from "../../src/client/client.js";
import {
  ack,
  createQueue,
  deleteQueue,
  deliveries,
  getMessage,
  messages,
  queueInfo,
  secureQueue,
  secureSenderQueue,
  sendMessage,
  subscribe,
  suspend,
  type DeliveryStream,
  type MessageBody,
  type ReceivedMessage,
  type RecipientQueue,
} from "../../src/client/queues.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { base64 } from "../../src/protocol/base64.js";
import type { ClientCommand } from "../../src/protocol/commands.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

const WS = WebSocket as unknown as WebSocketConstructor;
let relay: TestRelay;
let keyHash: Uint8Array;

const addressOf = async (r: TestRelay): Promise<Uint8Array> =>
  parseAddress(((await (await fetch(`${r.httpUrl}/health`)).json()) as { address: string }).address).keyHash;

beforeAll(async () => {
  relay = await startLocalTestRelay();
  keyHash = await addressOf(relay);
});

afterAll(async () => {
  await relay?.stop();
});

// Every connection a test opens is closed after it.
const opened: SMPClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) if (c.isOpen) c.close();
});

async function open(r: TestRelay = relay, kh: Uint8Array = keyHash): Promise<SMPClient> {
  const c = await connect(r.wsUrl, kh, { WebSocket: WS, pingInterval: 0, commandTimeout: 20_000 });
  opened.push(c);
  return c;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const der = (k: X25519KeyPair): Uint8Array => encodePublicKey({ alg: "x25519", raw: k.publicKey });

/** Resolves if the promise rejects with `ERR <code>`. */
async function expectErr(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: "SMPProtocolError", code });
}

/** A recipient command signed with the queue's rcv auth key but sent on any entity id. */
function asRecipient(c: SMPClient, entityId: Uint8Array, cmd: ClientCommand, q: RecipientQueue): Promise<unknown> {
  return c.command(entityId, cmd, { x25519PrivateKey: q.rcvAuthKey.privateKey });
}

/** The next delivery, which must be a MSG (for `q`, when given). */
async function nextMsg(stream: DeliveryStream, q?: RecipientQueue): Promise<ReceivedMessage> {
  const d = await stream.read(10_000);
  if (d === null) throw new Error("delivery stream ended");
  if (d.type !== "MSG") throw new Error(`expected MSG, got ${d.type}${d.type === "ERROR" ? `: ${d.error.message}` : ""}`);
  if (q) expect(d.rcvId).toEqual(q.rcvId);
  return d.message;
}

/** The next delivery, which must be a message with a body (not the quota marker); returns it. */
async function nextBody(stream: DeliveryStream, q?: RecipientQueue): Promise<MessageBody> {
  const m = await nextMsg(stream, q);
  if (m.quota) throw new Error("expected a message, got the quota marker");
  return m;
}

/** Asserts that nothing more arrives on the stream: a round trip, then a pause for late pushes. */
async function expectQuiet(stream: DeliveryStream, c: SMPClient, ms = 500): Promise<void> {
  await c.ping();
  await new Promise((r) => setTimeout(r, ms));
  const d = stream.pending > 0 ? await stream.read(0) : null;
  expect(d === null ? null : d.type === "MSG" && !d.message.quota ? `MSG ${str(d.message.body)}` : d.type).toBeNull();
}

const nowS = (): number => Math.floor(Date.now() / 1000);

describe("create", () => {
  it("NEW → IDS: 24-byte ids, rcvId ≠ sndId, DER X25519 server key, the requested mode", async () => {
    const c = await open();
    const q = await createQueue(c);
    expect(q.rcvId.length).toBe(24);
    expect(q.sndId.length).toBe(24);
    expect(q.rcvId).not.toEqual(q.sndId);
    expect(q.srvDhKey.length).toBe(44);
    expect(q.mode).toBe("M");
    expect((await createQueue(c, { mode: "C", subscribe: false })).mode).toBe("C");
    const q2 = await createQueue(c);
    expect(new Set([q.rcvId, q.sndId, q2.rcvId, q2.sndId].map((x) => base64.encode(x))).size).toBe(4);
  });

  it("forged and random 24-byte ids, and ids of the wrong kind, get ERR AUTH", async () => {
    const c = await open();
    const q = await createQueue(c);
    const forged = randomBytes(24);
    const bitFlip = q.rcvId.slice();
    bitFlip[23] = (bitFlip[23] as number) ^ 1;
    for (const id of [forged, bitFlip, q.sndId]) {
      await expectErr(asRecipient(c, id, { tag: "SUB" }, q), "AUTH");
      await expectErr(asRecipient(c, id, { tag: "QUE" }, q), "AUTH");
      await expectErr(asRecipient(c, id, { tag: "DEL" }, q), "AUTH");
    }
    await expectErr(sendMessage(c, forged, text("x")), "AUTH");
    await expectErr(sendMessage(c, q.rcvId, text("x")), "AUTH");
    // A different length too.
    await expectErr(asRecipient(c, randomBytes(16), { tag: "SUB" }, q), "AUTH");
    // The real queue is untouched.
    await sendMessage(c, q.sndId, text("still here"));
  });
});

describe("secure", () => {
  it("unsigned SEND works before KEY and is refused after it; the sender key then signs", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    await sendMessage(s, q.sndId, text("before"));
    const m1 = await nextBody(stream, q);
    expect(str(m1.body)).toBe("before");
    expect(m1.notify).toBe(true);
    expect(Math.abs(m1.timestamp - nowS())).toBeLessThan(60);
    expect(await ack(r, q, m1.msgId)).toBeNull();

    const sk = await generateX25519();
    // A signed SEND to an unsecured queue is refused: there is no key to check it against.
    await expectErr(sendMessage(s, q.sndId, text("signed too early"), { senderKey: sk }), "AUTH");
    await secureQueue(r, q, der(sk));
    await expectErr(sendMessage(s, q.sndId, text("unsigned")), "AUTH");
    await expectErr(sendMessage(s, q.sndId, text("wrong key"), { senderKey: await generateX25519() }), "AUTH");
    await sendMessage(s, q.sndId, text("after"), { senderKey: sk, notify: false });
    const m2 = await nextBody(stream, q);
    expect(str(m2.body)).toBe("after");
    expect(m2.notify).toBe(false);
    expect(m2.msgId).not.toEqual(m1.msgId);
    await ack(r, q, m2.msgId);
    await expectQuiet(stream, r);
  });

  it("KEY again with the same key is OK, with another key ERR AUTH", async () => {
    const c = await open();
    const q = await createQueue(c);
    const sk = await generateX25519();
    await secureQueue(c, q, der(sk));
    await secureQueue(c, q, der(sk));
    await expectErr(secureQueue(c, q, der(await generateX25519())), "AUTH");
    // The first key still holds.
    await sendMessage(c, q.sndId, text("m"), { senderKey: sk });
    expect((await queueInfo(c, q)).qiSnd).toBe(true);
  });

  it("KEY sent with the sender id is ERR AUTH and does not secure the queue", async () => {
    const c = await open();
    const q = await createQueue(c, { subscribe: false });
    const sk = await generateX25519();
    await expectErr(asRecipient(c, q.sndId, { tag: "KEY", senderKey: der(sk) }, q), "AUTH");
    expect((await queueInfo(c, q)).qiSnd).toBe(false);
    await sendMessage(c, q.sndId, text("unsigned still accepted"));
  });

  it("KEY signed with another key than the rcv auth key is ERR AUTH", async () => {
    const c = await open();
    const q = await createQueue(c, { subscribe: false });
    const other = await generateX25519();
    await expectErr(c.command(q.rcvId, { tag: "KEY", senderKey: der(other) }, { x25519PrivateKey: other.privateKey }), "AUTH");
    expect((await queueInfo(c, q)).qiSnd).toBe(false);
  });

  it("SKEY: the sender secures a messaging queue; same key again OK, another key ERR AUTH", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    const sk = await generateX25519();
    await secureSenderQueue(s, q.sndId, sk);
    await secureSenderQueue(s, q.sndId, sk);
    await expectErr(secureSenderQueue(s, q.sndId, await generateX25519()), "AUTH");
    await expectErr(sendMessage(s, q.sndId, text("unsigned")), "AUTH");
    await sendMessage(s, q.sndId, text("signed"), { senderKey: sk });
    expect(str((await nextBody(stream, q)).body)).toBe("signed");
    // The recipient's KEY with the same key is still OK, with another one AUTH.
    await secureQueue(r, q, der(sk));
    await expectErr(secureQueue(r, q, der(await generateX25519())), "AUTH");
    expect((await queueInfo(r, q)).qiSnd).toBe(true);
  });

  it("SKEY is refused on a contact queue, on the recipient id, and when signed with another key", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const contact = await createQueue(r, { mode: "C", subscribe: false });
    const sk = await generateX25519();
    await expectErr(secureSenderQueue(s, contact.sndId, sk), "AUTH");
    await sendMessage(s, contact.sndId, text("contact queue still unsecured"));

    const q = await createQueue(r, { subscribe: false });
    await expectErr(secureSenderQueue(s, q.rcvId, sk), "AUTH");
    const other = await generateX25519();
    await expectErr(s.command(q.sndId, { tag: "SKEY", senderKey: der(sk) }, { x25519PrivateKey: other.privateKey }), "AUTH");
    expect((await queueInfo(r, q)).qiSnd).toBe(false);
  });
});

describe("subscribe and acknowledge", () => {
  it("SUB with a wrong key is ERR AUTH, on the creating connection and on another", async () => {
    const [r, other] = await Promise.all([open(), open()]);
    const q = await createQueue(r);
    const wrong = await generateX25519();
    await expectErr(r.command(q.rcvId, { tag: "SUB" }, { x25519PrivateKey: wrong.privateKey }), "AUTH");
    await expectErr(other.command(q.rcvId, { tag: "SUB" }, { x25519PrivateKey: wrong.privateKey }), "AUTH");
    // Unsigned is refused before any queue lookup.
    await expectErr(other.command(q.rcvId, { tag: "SUB" }), "CMD NO_AUTH");
  });

  it("SUB delivers the pending message after SOK; ACK replies with the next one as MSG", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const q = await createQueue(r, { subscribe: false });
    for (const b of ["one", "two", "three"]) await sendMessage(s, q.sndId, text(b));
    const stream = deliveries(r);
    await expectQuiet(stream, r, 200); // not subscribed: nothing pushed
    await subscribe(r, q);
    const m1 = await nextBody(stream, q);
    expect(str(m1.body)).toBe("one");
    const m2 = await ack(r, q, m1.msgId);
    expect(m2 && !m2.quota && str(m2.body)).toBe("two");
    // The MSG reply to ACK reaches the stream too.
    expect((await nextBody(stream, q)).msgId).toEqual(m2!.msgId);
    const m3 = await ack(r, q, m2!.msgId);
    expect(m3 && !m3.quota && str(m3.body)).toBe("three");
    expect((await nextBody(stream, q)).msgId).toEqual(m3!.msgId);
    expect(await ack(r, q, m3!.msgId)).toBeNull();
    await expectQuiet(stream, r);
  });

  it("a second ACK of the same message is ERR NO_MSG, and so is ACK with a wrong msgId", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    await sendMessage(s, q.sndId, text("m"));
    const m = await nextBody(stream, q);
    await expectErr(ack(r, q, randomBytes(24)), "NO_MSG");
    expect(await ack(r, q, m.msgId)).toBeNull();
    await expectErr(ack(r, q, m.msgId), "NO_MSG");
    // With nothing delivered, any ACK is NO_MSG.
    await expectErr(ack(r, q, randomBytes(24)), "NO_MSG");
  });

  it("ACK on a connection with no subscription or GET for the queue is ERR NO_MSG", async () => {
    const [r, other, s] = await Promise.all([open(), open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    await sendMessage(s, q.sndId, text("m"));
    const m = await nextBody(stream, q);
    await expectErr(ack(other, q, m.msgId), "NO_MSG");
    // The message is still there for the subscriber.
    expect(await ack(r, q, m.msgId)).toBeNull();
  });

  it("SUB again redelivers the unacknowledged message with the same msgId; after ACK nothing", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    await sendMessage(s, q.sndId, text("again"));
    const first = await nextBody(stream, q);
    await subscribe(r, q);
    const second = await nextBody(stream, q);
    expect(second.msgId).toEqual(first.msgId);
    expect(str(second.body)).toBe("again");
    expect(second.timestamp).toBe(first.timestamp);
    await expectQuiet(stream, r, 200);

    // A new connection (the first one gone) gets it again too.
    r.close();
    const r2 = await open();
    const stream2 = deliveries(r2);
    await subscribe(r2, q);
    const third = await nextBody(stream2, q);
    expect(third.msgId).toEqual(first.msgId);
    expect(await ack(r2, q, third.msgId)).toBeNull();
    await subscribe(r2, q);
    await expectQuiet(stream2, r2);
  });

  it("a message sent to an idle subscribed queue is pushed at once; the next waits for the ACK", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    await sendMessage(s, q.sndId, text("a"));
    await sendMessage(s, q.sndId, text("b"));
    const a = await nextBody(stream, q);
    expect(str(a.body)).toBe("a");
    await expectQuiet(stream, r, 300); // one outstanding message at a time
    await ack(r, q, a.msgId);
    expect(str((await nextBody(stream, q)).body)).toBe("b");
  });
});

describe("takeover", () => {
  it("a SUB from another connection moves the subscription: END to the old one, redelivery with the same msgId", async () => {
    const [r1, r2, s] = await Promise.all([open(), open(), open()]);
    const stream1 = deliveries(r1);
    const stream2 = deliveries(r2);
    const q = await createQueue(r1);
    await sendMessage(s, q.sndId, text("unacked"));
    const m1 = await nextBody(stream1, q);

    await subscribe(r2, q);
    const end = await stream1.read(10_000);
    expect(end).toEqual({ type: "END", rcvId: q.rcvId });
    const again = await nextBody(stream2, q);
    expect(again.msgId).toEqual(m1.msgId);
    expect(str(again.body)).toBe("unacked");

    // The new subscriber acknowledges and receives what follows; the old one gets nothing more.
    expect(await ack(r2, q, again.msgId)).toBeNull();
    await sendMessage(s, q.sndId, text("next"));
    expect(str((await nextBody(stream2, q)).body)).toBe("next");
    await expectQuiet(stream1, r1);
    // The old connection is no longer subscribed: its ACKs are refused, even the empty msgId
    // ("whatever was delivered"), which must not remove the new subscriber's message.
    await expectErr(ack(r1, q, m1.msgId), "NO_MSG");
    await expectErr(ack(r1, q, new Uint8Array(0)), "NO_MSG");
    const info = await queueInfo(r2, q);
    expect(info.qiSize).toBe(1);
  });

  it("messages(q) ends at END", async () => {
    const [r1, r2, s] = await Promise.all([open(), open(), open()]);
    const q = await createQueue(r1);
    const it1 = messages(r1, q);
    await sendMessage(s, q.sndId, text("x"));
    const got: string[] = [];
    const done = (async () => {
      for await (const m of it1) got.push(m.quota ? "QUOTA" : str(m.body));
    })();
    await new Promise((r) => setTimeout(r, 300));
    await subscribe(r2, q);
    await done;
    expect(got).toEqual(["x"]);
  });
});

describe("suspend and delete", () => {
  it("OFF twice is OK both times, then SEND is ERR AUTH; the pending message can still be received", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const q = await createQueue(r, { subscribe: false });
    await sendMessage(s, q.sndId, text("before OFF"));
    await suspend(r, q);
    await suspend(r, q);
    await expectErr(sendMessage(s, q.sndId, text("after OFF")), "AUTH");
    const stream = deliveries(r);
    await subscribe(r, q);
    const m = await nextBody(stream, q);
    expect(str(m.body)).toBe("before OFF");
    expect(await ack(r, q, m.msgId)).toBeNull();
    await expectErr(sendMessage(s, q.sndId, text("still off")), "AUTH");
  });

  it("after DEL every command on the queue's ids is ERR AUTH, and the subscribed connection gets DELD", async () => {
    const [r1, r2, s] = await Promise.all([open(), open(), open()]);
    const stream1 = deliveries(r1);
    const q = await createQueue(r1);
    const sk = await generateX25519();
    await secureSenderQueue(s, q.sndId, sk);
    await sendMessage(s, q.sndId, text("pending"), { senderKey: sk });
    const m = await nextBody(stream1, q);

    await deleteQueue(r2, q);
    expect(await stream1.read(10_000)).toEqual({ type: "DELD", rcvId: q.rcvId });

    for (const c of [r1, r2]) {
      await expectErr(asRecipient(c, q.rcvId, { tag: "SUB" }, q), "AUTH");
      await expectErr(asRecipient(c, q.rcvId, { tag: "KEY", senderKey: der(sk) }, q), "AUTH");
      await expectErr(asRecipient(c, q.rcvId, { tag: "ACK", msgId: m.msgId }, q), "AUTH");
      await expectErr(asRecipient(c, q.rcvId, { tag: "GET" }, q), "AUTH");
      await expectErr(asRecipient(c, q.rcvId, { tag: "OFF" }, q), "AUTH");
      await expectErr(asRecipient(c, q.rcvId, { tag: "QUE" }, q), "AUTH");
      await expectErr(asRecipient(c, q.rcvId, { tag: "DEL" }, q), "AUTH");
    }
    await expectErr(sendMessage(s, q.sndId, text("signed"), { senderKey: sk }), "AUTH");
    await expectErr(sendMessage(s, q.sndId, text("unsigned")), "AUTH");
    await expectErr(secureSenderQueue(s, q.sndId, sk), "AUTH");
    await expectQuiet(stream1, r1);
  });

  it("DEL by the subscribed connection itself is silent (no DELD)", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    await sendMessage(s, q.sndId, text("m"));
    await nextBody(stream, q);
    await deleteQueue(r, q);
    await expectErr(sendMessage(s, q.sndId, text("gone")), "AUTH");
    await expectQuiet(stream, r);
  });
});

describe("GET", () => {
  it("GET on an empty queue gives null; a message, then ACK (OK), then null", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const q = await createQueue(r, { subscribe: false });
    const g = await open();
    expect(await getMessage(g, q)).toBeNull();
    await sendMessage(s, q.sndId, text("got"), { notify: false });
    const m = await getMessage(g, q);
    expect(m && !m.quota && str(m.body)).toBe("got");
    expect(m && !m.quota && m.notify).toBe(false);
    expect(await ack(g, q, m!.msgId)).toBeNull();
    await expectErr(ack(g, q, m!.msgId), "NO_MSG");
    expect(await getMessage(g, q)).toBeNull();
  });

  it("SUB then GET, and GET then SUB, on one connection are ERR CMD PROHIBITED", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const q = await createQueue(r, { subscribe: false });
    await sendMessage(s, q.sndId, text("m"));

    const subscriber = await open();
    await subscribe(subscriber, q);
    await expectErr(getMessage(subscriber, q), "CMD PROHIBITED");

    const getter = await open();
    const m = await getMessage(getter, q);
    expect(m && !m.quota && str(m.body)).toBe("m");
    await expectErr(subscribe(getter, q), "CMD PROHIBITED");
    // And on the connection that created the queue with subscribe: true.
    const q2 = await createQueue(r);
    await expectErr(getMessage(r, q2), "CMD PROHIBITED");
  });
});

describe("QUE", () => {
  it("INFO reports the sender key, the size, the subscription and the head message", async () => {
    const [r, s, other] = await Promise.all([open(), open(), open()]);
    const stream = deliveries(r);
    const q = await createQueue(r);
    const empty = await queueInfo(r, q);
    expect(empty).toMatchObject({ qiSnd: false, qiNtf: false, qiSize: 0 });
    expect(empty.qiMsg).toBeUndefined();
    expect(empty.qiSub?.qSubThread).toBe("noSub");
    expect(empty.qiSub?.qDelivered).toBeUndefined();

    const sk = await generateX25519();
    await secureQueue(r, q, der(sk));
    await sendMessage(s, q.sndId, text("1"), { senderKey: sk });
    await sendMessage(s, q.sndId, text("2"), { senderKey: sk });
    const m = await nextBody(stream, q);
    const info = await queueInfo(r, q);
    expect(info.qiSnd).toBe(true);
    expect(info.qiNtf).toBe(false);
    expect(info.qiSize).toBe(2);
    expect(info.qiSub?.qDelivered).toBe(base64.encode(m.msgId));
    expect(info.qiMsg?.msgId).toBe(base64.encode(m.msgId));
    expect(info.qiMsg?.msgType).toBe("message");
    expect(info.qiMsg?.msgTs).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(info.qiMsg!.msgTs) / 1000).toBe(m.timestamp);

    // A connection without a subscription sees no qiSub.
    const seen = await queueInfo(other, q);
    expect(seen.qiSub).toBeUndefined();
    expect(seen.qiSize).toBe(2);
    // Key order as upstream's JSON encoder writes it.
    const raw = await other.command(q.rcvId, { tag: "QUE" }, { x25519PrivateKey: q.rcvAuthKey.privateKey });
    expect(raw.tag === "INFO" && Object.keys(JSON.parse(raw.json) as object)).toEqual(["qiSnd", "qiNtf", "qiSize", "qiMsg"]);
  });
});

describe("limits", () => {
  it("a SEND body of 16048 bytes is OK and arrives whole; 16049 is ERR LARGE_MSG", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const q = await createQueue(r, { subscribe: false });
    const big = randomBytes(16048);
    await sendMessage(s, q.sndId, big);
    await expectErr(sendMessage(s, q.sndId, randomBytes(16049)), "LARGE_MSG");
    const m = await getMessage(r, q);
    expect(m && !m.quota && m.body).toEqual(big);
    await ack(r, q, m!.msgId);
    expect(await getMessage(r, q)).toBeNull();
    // An empty body is a message too.
    await sendMessage(s, q.sndId, new Uint8Array(0));
    const e = await getMessage(r, q);
    expect(e && !e.quota && e.body.length).toBe(0);
  });

  it("quota: the 129th SEND is ERR QUOTA; the recipient gets 128 messages and the marker; then SENDs work again", async () => {
    const [r, s] = await Promise.all([open(), open()]);
    const q = await createQueue(r, { subscribe: false });
    for (let i = 0; i < 128; i++) await sendMessage(s, q.sndId, text(`m${i}`));
    await expectErr(sendMessage(s, q.sndId, text("over")), "QUOTA");
    await expectErr(sendMessage(s, q.sndId, text("over again")), "QUOTA");

    const stream = deliveries(r);
    await subscribe(r, q);
    const got: string[] = [];
    let marker: ReceivedMessage | null = null;
    for (let i = 0; i < 129; i++) {
      const m = await nextMsg(stream, q);
      if (m.quota) marker = m;
      else got.push(str(m.body));
      // Not drained yet: still refused.
      if (i === 10) await expectErr(sendMessage(s, q.sndId, text("not yet")), "QUOTA");
      await ack(r, q, m.msgId);
    }
    expect(got).toEqual(Array.from({ length: 128 }, (_, i) => `m${i}`));
    expect(marker).not.toBeNull();
    expect(Math.abs(marker!.timestamp - nowS())).toBeLessThan(120);
    await expectQuiet(stream, r, 200);

    await sendMessage(s, q.sndId, text("after drain"));
    expect(str((await nextBody(stream, q)).body)).toBe("after drain");
  });
});

describe("duplex", () => {
  it("two queues, each side the sender of one, secured with SKEY, 20 messages each way", async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const streamA = deliveries(a);
    const streamB = deliveries(b);
    const qa = await createQueue(a); // a receives on qa, b sends to it
    const qb = await createQueue(b);
    const [ka, kb] = await Promise.all([generateX25519(), generateX25519()]);
    await secureSenderQueue(b, qa.sndId, kb);
    await secureSenderQueue(a, qb.sndId, ka);

    const receive = async (c: SMPClient, stream: DeliveryStream, q: RecipientQueue): Promise<string[]> => {
      const out: string[] = [];
      while (out.length < 20) {
        const m = await nextBody(stream, q);
        out.push(str(m.body));
        await ack(c, q, m.msgId);
      }
      return out;
    };
    const send = async (c: SMPClient, sndId: Uint8Array, key: X25519KeyPair, from: string): Promise<void> => {
      for (let i = 0; i < 20; i++) await sendMessage(c, sndId, text(`${from}${i}`), { senderKey: key });
    };
    const [atA, atB] = await Promise.all([receive(a, streamA, qa), receive(b, streamB, qb), send(b, qa.sndId, kb, "b"), send(a, qb.sndId, ka, "a")]);
    expect(atA).toEqual(Array.from({ length: 20 }, (_, i) => `b${i}`));
    expect(atB).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
  });
});

describe("basic auth for queue creation", () => {
  let locked: TestRelay;
  let lockedKeyHash: Uint8Array;
  beforeAll(async () => {
    locked = await startLocalTestRelay({ vars: { QUEUE_PASSWORD: "secret" } });
    lockedKeyHash = await addressOf(locked);
  });
  afterAll(async () => {
    await locked?.stop();
  });

  it("NEW without the password or with a wrong one is ERR AUTH; with the right one IDS", async () => {
    const c = await open(locked, lockedKeyHash);
    await expectErr(createQueue(c), "AUTH");
    await expectErr(createQueue(c, { basicAuth: "wrong" }), "AUTH");
    await expectErr(createQueue(c, { basicAuth: "secre" }), "AUTH");
    await expectErr(createQueue(c, { basicAuth: "secret2" }), "AUTH");
    const stream = deliveries(c);
    const q = await createQueue(c, { basicAuth: "secret" });
    expect(q.rcvId.length).toBe(24);
    // The queue works; sending needs no password.
    const s = await open(locked, lockedKeyHash);
    await sendMessage(s, q.sndId, text("through the locked relay"));
    expect(str((await nextBody(stream, q)).body)).toBe("through the locked relay");
  });
});

describe("1000 messages", () => {
  it("over 10 queues, from two sender connections to two recipient connections: each exactly once, in order per queue", async () => {
    const PER_QUEUE = 100;
    const [r1, r2, s1, s2] = await Promise.all([open(), open(), open(), open()]);
    const recipients = [r1, r2];
    const streams = recipients.map((r) => deliveries(r));
    // Five queues per recipient, subscribed at creation.
    const queues: { q: RecipientQueue; r: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const r = i % 2;
      queues.push({ q: await createQueue(recipients[r]!), r });
    }
    const index = new Map(queues.map(({ q }, i) => [base64.encode(q.rcvId), i]));
    const received: number[][] = queues.map(() => []);
    let total = 0;

    const receive = async (r: number): Promise<void> => {
      const stream = streams[r]!;
      const expected = PER_QUEUE * 5;
      let mine = 0;
      const acks: Promise<unknown>[] = [];
      while (mine < expected) {
        const d = await stream.read(30_000);
        if (d === null) throw new Error("stream ended");
        if (d.type !== "MSG") throw new Error(`unexpected ${d.type}`);
        if (d.message.quota) throw new Error("quota marker");
        const qi = index.get(base64.encode(d.rcvId));
        if (qi === undefined || queues[qi]!.r !== r) throw new Error("message for a queue of the other recipient");
        const [qs, seq] = str(d.message.body).split(":").map(Number);
        expect(qs).toBe(qi);
        received[qi]!.push(seq!);
        mine++;
        total++;
        // ACK-driven: the next message of this queue comes as the reply to this ACK (also seen on the stream).
        acks.push(ack(recipients[r]!, d.queue, d.message.msgId));
      }
      await Promise.all(acks);
    };
    // Sender connection 1 sends to queues 0–4, connection 2 to 5–9: each feeds both recipients.
    const send = async (s: SMPClient, qi: number): Promise<void> => {
      const q = queues[qi]!.q;
      for (let seq = 0; seq < PER_QUEUE; seq++) await sendMessage(s, q.sndId, text(`${qi}:${seq}`));
    };
    const started = Date.now();
    await Promise.all([receive(0), receive(1), ...queues.map((_, qi) => send(qi < 5 ? s1 : s2, qi))]);
    expect(total).toBe(1000);
    for (let qi = 0; qi < 10; qi++) expect(received[qi], `queue ${qi}`).toEqual(Array.from({ length: PER_QUEUE }, (_, i) => i));
    for (let r = 0; r < 2; r++) await expectQuiet(streams[r]!, recipients[r]!, 300);
    console.log(`1000 messages in ${Date.now() - started} ms`);
  }, 180_000);
});
