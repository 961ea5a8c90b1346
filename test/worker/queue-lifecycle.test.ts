// Queue objects inside workerd: expiry through the alarm, and messages surviving the loss of
// both the Queue and the Session objects.
import { env, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Push, SMPClient } from "../../src/client/client.js";
import { unpad } from "../../src/protocol/padding.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { cryptoBoxOpen } from "../../src/crypto/secretbox.js";
import { generateX25519, x25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import type { QueueDO } from "../../src/server/queue.js";
import { openWithSession } from "./session-of.js";

const utf8 = new TextEncoder();

async function open(): Promise<SMPClient> {
  return (await openWithSession()).client;
}

interface Queue {
  rcvId: Uint8Array;
  sndId: Uint8Array;
  auth: X25519KeyPair;
  secret: Uint8Array;
  stub: DurableObjectStub<QueueDO>;
}

/** NEW through the relay; also finds the Queue object that was created for it. */
async function newQueue(c: SMPClient, subscribe: boolean): Promise<Queue> {
  const known = new Set((await listDurableObjectIds(env.QUEUE)).map((id) => id.toString()));
  const auth = await generateX25519();
  const dh = await generateX25519();
  const r = await c.command(
    new Uint8Array(0),
    {
      tag: "NEW",
      rcvAuthKey: encodePublicKey({ alg: "x25519", raw: auth.publicKey }),
      rcvDhKey: encodePublicKey({ alg: "x25519", raw: dh.publicKey }),
      basicAuth: null,
      subscribe,
      queueReqData: { mode: "M", link: null },
      ntfCreds: null,
    },
    { x25519PrivateKey: auth.privateKey },
  );
  if (r.tag !== "IDS") throw new Error(`expected IDS, got ${r.tag}`);
  const added = (await listDurableObjectIds(env.QUEUE)).filter((id) => !known.has(id.toString()));
  expect(added).toHaveLength(1);
  const secret = await x25519(dh.privateKey, r.srvDhKey.subarray(12));
  return { rcvId: r.rcvId, sndId: r.sndId, auth, secret, stub: env.QUEUE.get(added[0]!) };
}

function text(q: Queue, msgId: Uint8Array, body: Uint8Array): string {
  const plain = cryptoBoxOpen(q.secret, msgId, body);
  if (!plain) throw new Error("MSG does not open");
  return new TextDecoder().decode(unpad(plain).subarray(10));
}

/** Collects MSG pushes and waits for the n-th one. */
function inbox(c: SMPClient): { msgs: Push[]; next(n: number): Promise<Push> } {
  const msgs: Push[] = [];
  const waiters: Array<() => void> = [];
  c.onPush((p) => {
    if (p.response.tag !== "MSG") return;
    msgs.push(p);
    waiters.splice(0).forEach((w) => w());
  });
  return {
    msgs,
    async next(n) {
      while (msgs.length < n) await new Promise<void>((r) => waiters.push(r));
      return msgs[n - 1]!;
    },
  };
}

describe("expiry", () => {
  it("arms the alarm at the first expiry, deletes expired messages when it runs, and runs twice safely", async () => {
    const c = await open();
    const q = await newQueue(c, false);
    const before = Date.now();
    expect(await c.request(q.sndId, { tag: "SEND", notify: true, body: utf8.encode("old") })).toEqual({ tag: "OK" });
    const alarm = await runInDurableObject(q.stub, (_i, state) => state.storage.getAlarm());
    // Default TTL: 21 days.
    expect(alarm).toBeGreaterThanOrEqual(before + 21 * 24 * 3600 * 1000);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 21 * 24 * 3600 * 1000);

    // Make the first message old, then add a fresh one.
    await runInDurableObject(q.stub, (_i, state) => {
      state.storage.sql.exec("UPDATE msg SET expires = ?", Date.now() - 1000);
    });
    expect(await c.request(q.sndId, { tag: "SEND", notify: true, body: utf8.encode("new") })).toEqual({ tag: "OK" });
    expect(await runDurableObjectAlarm(q.stub)).toBe(true);
    const rows = await runInDurableObject(q.stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM msg").one().n);
    expect(rows).toBe(1);
    // The alarm re-armed for the remaining message; running it again deletes nothing.
    const next = await runInDurableObject(q.stub, (_i, state) => state.storage.getAlarm());
    expect(next).toBeGreaterThan(Date.now());
    await runInDurableObject(q.stub, (instance) => instance.alarm());
    expect(await runInDurableObject(q.stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM msg").one().n)).toBe(1);

    const got = await c.request(q.rcvId, { tag: "GET" }, { x25519PrivateKey: q.auth.privateKey });
    if (got.tag !== "MSG") throw new Error(`expected MSG, got ${got.tag}`);
    expect(text(q, got.msgId, got.body)).toBe("new");
    c.close();
  });

  it("never delivers an expired message even when the alarm is late", async () => {
    const c = await open();
    const q = await newQueue(c, false);
    await c.request(q.sndId, { tag: "SEND", notify: true, body: utf8.encode("stale") });
    await runInDurableObject(q.stub, (_i, state) => {
      state.storage.sql.exec("UPDATE msg SET expires = ?", Date.now() - 1);
    });
    expect(await c.request(q.rcvId, { tag: "GET" }, { x25519PrivateKey: q.auth.privateKey })).toEqual({ tag: "OK" });
    c.close();
  });
});

describe("nothing lost when objects go away", () => {
  it("keeps pending and unacknowledged messages across eviction of the Queue and Session objects", async () => {
    const { client: recipient, session } = await openWithSession();
    const sender = await open();
    const box = inbox(recipient);
    const q = await newQueue(recipient, true);
    await sender.request(q.sndId, { tag: "SEND", notify: true, body: utf8.encode("one") });
    await sender.request(q.sndId, { tag: "SEND", notify: true, body: utf8.encode("two") });
    const first = await box.next(1);
    if (first.response.tag !== "MSG") throw new Error("no MSG");
    expect(text(q, first.response.msgId, first.response.body)).toBe("one");

    const queueBefore = await runInDurableObject(q.stub, (instance) => instance);
    const sessionBefore = await runInDurableObject(session, (instance) => instance);
    // workerd evicts idle objects after 10 s; the sockets stay open (hibernated).
    await new Promise((r) => setTimeout(r, 11_500));
    expect(await runInDurableObject(q.stub, (instance) => instance)).not.toBe(queueBefore);
    expect(await runInDurableObject(session, (instance) => instance)).not.toBe(sessionBefore);

    // ACK of the message delivered before eviction is accepted and brings the next one.
    const next = await recipient.request(q.rcvId, { tag: "ACK", msgId: first.response.msgId }, { x25519PrivateKey: q.auth.privateKey });
    if (next.tag !== "MSG") throw new Error(`expected MSG, got ${next.tag}`);
    expect(text(q, next.msgId, next.body)).toBe("two");
    // And pushes still reach the (re-woken) subscriber Session.
    expect(await recipient.request(q.rcvId, { tag: "ACK", msgId: next.msgId }, { x25519PrivateKey: q.auth.privateKey })).toEqual({ tag: "OK" });
    await sender.request(q.sndId, { tag: "SEND", notify: true, body: utf8.encode("three") });
    // Pushes so far: "one", "two" (the MSG reply to ACK also reaches push listeners), "three".
    const third = await box.next(3);
    if (third.response.tag !== "MSG") throw new Error("no MSG");
    expect(text(q, third.response.msgId, third.response.body)).toBe("three");
    recipient.close();
    sender.close();
  });
});
