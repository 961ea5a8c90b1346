// Short links inside workerd (WIRE.md 6.13a; src/server/routes.ts, idIndex.ts, newQueue.ts,
// queueLinks.ts), next to the Durable Objects: which objects a forged or missing id wakes and
// what storage it leaves, links surviving the loss of every object's memory, what DEL leaves
// behind, a Session's remembered route going stale, and LSET racing DEL.
//
// What the relay's counters (src/server/metrics.ts) say is read here directly: the Durable Objects
// run in this test's isolate, so `metrics` is the relay's own object.
//
// workerd makes an SQLite-backed object's database file as soon as the object wakes, whether or
// not it reads or writes anything, and deleteAll() empties the database without removing the
// file; so `listDurableObjectIds` (which lists those files) lists every object ever woken. "Holds
// no storage" is therefore checked by looking inside: no table in its database, nothing under its
// key.

import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { contactLinkId } from "../../src/crypto/linkIds.js";
import { cryptoBoxOpen } from "../../src/crypto/secretbox.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import type { ServerResponse } from "../../src/protocol/commands.js";
import { hex } from "../../src/protocol/encoding.js";
import { unpad } from "../../src/protocol/padding.js";
import { IdIndexDO } from "../../src/server/idIndex.js";
import { loadQueueIds } from "../../src/server/identityStore.js";
import { metrics } from "../../src/server/metrics.js";
import { QueueDO } from "../../src/server/queue.js";
import type { IndexedKind } from "../../src/server/queueIds.js";
import { SessionDO } from "../../src/server/session.js";
import { derX, newLinked, outcome, sendAs, str, text, type LinkedQueue, type LinkedQueueOptions, created as createdLinked } from "../helpers/linkWire.js";
import { evict, queueObjectOf } from "./objects.js";
import { openWithSession } from "./session-of.js";
import { until } from "./watched-conn.js";

// ---- Queues, replies, objects ----

/** Made without subscribing (unless asked). */
const created = (conn: SMPClient, o: LinkedQueueOptions): Promise<LinkedQueue> => createdLinked(conn, { subscribe: false, ...o });

/** A queue made without link data: both its ids sealed by the relay. */
async function plainQueue(conn: SMPClient): Promise<{ rcvId: Uint8Array; sndId: Uint8Array }> {
  const rcvKey = await generateX25519();
  const cmd = { tag: "NEW", rcvAuthKey: derX(rcvKey), rcvDhKey: derX(await generateX25519()), basicAuth: null, subscribe: false, queueReqData: { mode: "M", link: null }, ntfCreds: null } as const;
  const r = await sendAs(conn, new Uint8Array(0), cmd, rcvKey);
  if (r.tag !== "IDS") throw new Error(`NEW: ${outcome(r)}`);
  return { rcvId: r.rcvId, sndId: r.sndId };
}

function lnk(r: ServerResponse): { sndId: string; fixed: string; user: string } {
  if (r.tag !== "LNK") throw new Error(`expected LNK, got ${outcome(r)}`);
  return { sndId: hex(r.sndId), fixed: str(r.fixedData), user: str(r.userData) };
}

const lget = (conn: SMPClient, linkId: Uint8Array): Promise<ServerResponse> => sendAs(conn, linkId, { tag: "LGET" }, null);
const send = (conn: SMPClient, sndId: Uint8Array, body: string, key: Parameters<typeof sendAs>[3] = null): Promise<ServerResponse> =>
  sendAs(conn, sndId, { tag: "SEND", notify: true, body: text(body) }, key);

async function queueInfo(conn: SMPClient, q: LinkedQueue): Promise<{ qiSnd: boolean; qiSize: number }> {
  const r = await sendAs(conn, q.rcvId, { tag: "QUE" }, q.rcvKey);
  if (r.tag !== "INFO") throw new Error(`QUE: ${outcome(r)}`);
  return JSON.parse(r.json) as { qiSnd: boolean; qiSize: number };
}

const flip = (id: Uint8Array, byte: number): Uint8Array => {
  const f = id.slice();
  f[byte]! ^= 0x01;
  return f;
};

const listed = async <T extends Rpc.DurableObjectBranded>(ns: DurableObjectNamespace<T>): Promise<Set<string>> => new Set((await listDurableObjectIds(ns)).map((id) => id.toString()));

/** The relay's DO request counters that these tests watch, as they stand now. */
const rpc = (): Record<"queueCall" | "queueCreate" | "indexLookup" | "indexClaim" | "indexRelease", number> => {
  const { queueCall, queueCreate, indexLookup, indexClaim, indexRelease } = metrics.rpc;
  return { queueCall, queueCreate, indexLookup, indexClaim, indexRelease };
};
const since = (before: ReturnType<typeof rpc>): ReturnType<typeof rpc> => {
  const now = rpc();
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k as keyof typeof before]])) as ReturnType<typeof rpc>;
};
const NOTHING = { queueCall: 0, queueCreate: 0, indexLookup: 0, indexClaim: 0, indexRelease: 0 };

function tablesOf(state: DurableObjectState): string[] {
  return state.storage.sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
    .toArray()
    .map((r) => r.name);
}

/** The index object of a client-chosen id (named as the relay names it). */
async function indexOf(kind: IndexedKind, id: Uint8Array): Promise<{ name: string; objectId: string; stub: DurableObjectStub<IdIndexDO> }> {
  const name = (await loadQueueIds(env)).indexName(kind, id);
  return { name, objectId: env.ID_INDEX.idFromName(name).toString(), stub: env.ID_INDEX.getByName(name) };
}

/** What an index object holds: the queue its id leads to, and the tables of its database. */
function indexContents(stub: DurableObjectStub<IdIndexDO>): Promise<{ queue: string | undefined; tables: string[] }> {
  return runInDurableObject(stub, (_i, state) => ({ queue: state.storage.kv.get<string>("queue"), tables: tablesOf(state) }));
}

function messageText(q: LinkedQueue, msgId: Uint8Array, body: Uint8Array): string {
  const plain = cryptoBoxOpen(q.dhSecret, msgId, body);
  if (!plain) throw new Error("MSG does not open");
  // Timestamp (8 bytes), flags ("T "), then the body.
  return str(unpad(plain).subarray(10));
}

// ---- The tests ----

describe("forged and missing ids", () => {
  it("a random link id or sender id: ERR AUTH, no Queue object woken or made, and the index object looked up holds nothing", async () => {
    const { client } = await openWithSession();
    const k = await generateX25519();
    await loadQueueIds(env);
    const [queues, indexes] = [await listed(env.QUEUE), await listed(env.ID_INDEX)];
    const m = rpc();
    const [linkA, linkB, snd] = [randomBytes(24), randomBytes(24), randomBytes(24)];
    expect(outcome(await lget(client, linkA))).toBe("ERR AUTH");
    expect(outcome(await sendAs(client, linkB, { tag: "LKEY", senderKey: derX(k) }, k))).toBe("ERR AUTH");
    expect(outcome(await send(client, snd, "x"))).toBe("ERR AUTH");
    expect(outcome(await send(client, snd, "x", k)), "signed").toBe("ERR AUTH");
    // One lookup per command (the Session remembers only ids that lead somewhere); no Queue call.
    expect(since(m)).toEqual({ ...NOTHING, indexLookup: 4 });
    expect(await listed(env.QUEUE)).toEqual(queues);
    // The only objects that appeared are the three index objects looked up, and they hold nothing.
    const looked = [await indexOf("link", linkA), await indexOf("link", linkB), await indexOf("snd", snd)];
    const added = [...(await listed(env.ID_INDEX))].filter((id) => !indexes.has(id));
    expect(added.every((id) => looked.some((l) => l.objectId === id))).toBe(true);
    for (const l of looked) expect(await indexContents(l.stub)).toEqual({ queue: undefined, tables: [] });
    client.close();
  });

  it("a relay-sealed id with a bit flipped, or of the wrong kind: ERR AUTH; a recipient id wakes no object at all", async () => {
    const { client } = await openWithSession();
    const inv = await created(client, { mode: "M" });
    const plain = await plainQueue(client);
    const [queues, indexes] = [await listed(env.QUEUE), await listed(env.ID_INDEX)];
    const m = rpc();
    // A bit flipped in the AES block or in the MAC of the recipient id.
    for (const byte of [0, 20]) {
      const forged = flip(inv.rcvId, byte);
      expect(outcome(await sendAs(client, forged, { tag: "LSET", linkId: inv.linkId, fixedData: inv.fixedData, userData: text("x") }, inv.rcvKey))).toBe("ERR AUTH");
      expect(outcome(await sendAs(client, forged, { tag: "RKEY", recipientKeys: [derX(inv.rcvKey)] }, inv.rcvKey))).toBe("ERR AUTH");
      expect(outcome(await sendAs(client, forged, { tag: "SUB" }, inv.rcvKey))).toBe("ERR AUTH");
    }
    // Genuine sealed ids, for commands of another kind.
    expect(outcome(await lget(client, inv.rcvId))).toBe("ERR AUTH");
    expect(outcome(await sendAs(client, inv.rcvId, { tag: "LKEY", senderKey: derX(inv.rcvKey) }, inv.rcvKey))).toBe("ERR AUTH");
    expect(outcome(await sendAs(client, inv.linkId, { tag: "LDEL" }, inv.rcvKey))).toBe("ERR AUTH");
    expect(outcome(await send(client, inv.linkId, "x"))).toBe("ERR AUTH");
    expect(outcome(await send(client, plain.rcvId, "x"))).toBe("ERR AUTH");
    expect(outcome(await lget(client, plain.sndId))).toBe("ERR AUTH");
    expect(since(m), "no object called").toEqual(NOTHING);
    expect(await listed(env.QUEUE)).toEqual(queues);
    expect(await listed(env.ID_INDEX)).toEqual(indexes);

    // A flipped link id or sender id is, to the relay, as good as any id a client may choose
    // (a contact's link id or a sender id is any 24 bytes): one index lookup, still no Queue call.
    const m2 = rpc();
    const k = await generateX25519();
    expect(outcome(await lget(client, flip(inv.linkId, 0)))).toBe("ERR AUTH");
    expect(outcome(await sendAs(client, flip(inv.linkId, 20), { tag: "LKEY", senderKey: derX(k) }, k))).toBe("ERR AUTH");
    expect(outcome(await send(client, flip(plain.sndId, 3), "x"))).toBe("ERR AUTH");
    expect(since(m2)).toEqual({ ...NOTHING, indexLookup: 3 });
    expect(await listed(env.QUEUE)).toEqual(queues);
    for (const [kind, id] of [["link", flip(inv.linkId, 0)], ["link", flip(inv.linkId, 20)], ["snd", flip(plain.sndId, 3)]] as const) {
      expect(await indexContents((await indexOf(kind, id)).stub)).toEqual({ queue: undefined, tables: [] });
    }
    // The genuine ids still lead to their queues.
    expect(lnk(await sendAs(client, inv.linkId, { tag: "LKEY", senderKey: derX(k) }, k)).sndId).toBe(hex(inv.sndId));
    expect(outcome(await send(client, plain.sndId, "x"))).toBe("OK");
    client.close();
  });
});

describe("short links after every object lost its memory", () => {
  it("LGET, LSET, LKEY, SEND through the client's sender id, RKEY and SUB all work after evicting the Queue, index and Session objects", async () => {
    const owner = await openWithSession();
    const reader = await openWithSession();
    const c = await created(owner.client, { mode: "C", fixedData: text("address"), userData: text("v1") });
    const inv = await created(owner.client, { mode: "M", fixedData: text("invitation"), userData: text("hi") });
    // The reader looks the address up: its Session remembers the route.
    expect(lnk(await lget(reader.client, c.linkId))).toEqual({ sndId: hex(c.sndId), fixed: "address", user: "v1" });

    const cObj = await queueObjectOf(c.rcvId);
    const invObj = await queueObjectOf(inv.rcvId);
    const indexes = [
      { ...(await indexOf("snd", c.sndId)), queue: cObj.name },
      { ...(await indexOf("link", c.linkId)), queue: cObj.name },
      { ...(await indexOf("snd", inv.sndId)), queue: invObj.name },
    ];
    for (const i of indexes) expect((await indexContents(i.stub)).queue).toBe(i.queue);

    for (const o of [cObj, invObj]) await evict(o.stub, (state) => new QueueDO(state, env));
    for (const i of indexes) await evict(i.stub, (state) => new IdIndexDO(state, env));
    for (const s of [owner.session, reader.session]) await evict(s, (state) => new SessionDO(state, env));

    // The reader's Session forgot its route: one lookup again, then the queue.
    const m = rpc();
    expect(lnk(await lget(reader.client, c.linkId))).toEqual({ sndId: hex(c.sndId), fixed: "address", user: "v1" });
    expect(since(m)).toEqual({ ...NOTHING, indexLookup: 1, queueCall: 1 });

    expect(outcome(await sendAs(owner.client, c.rcvId, { tag: "LSET", linkId: c.linkId, fixedData: text("address"), userData: text("v2") }, c.rcvKey))).toBe("OK");
    expect(lnk(await lget(reader.client, c.linkId)).user).toBe("v2");

    const j = await generateX25519();
    expect(lnk(await sendAs(reader.client, inv.linkId, { tag: "LKEY", senderKey: derX(j) }, j))).toEqual({ sndId: hex(inv.sndId), fixed: "invitation", user: "hi" });
    expect(outcome(await send(reader.client, inv.sndId, "confirmation", j))).toBe("OK");
    expect(await queueInfo(owner.client, inv)).toMatchObject({ qiSnd: true, qiSize: 1 });

    expect(outcome(await send(reader.client, c.sndId, "join request"))).toBe("OK");
    const k2 = await generateX25519();
    expect(outcome(await sendAs(owner.client, c.rcvId, { tag: "RKEY", recipientKeys: [derX(k2)] }, c.rcvKey))).toBe("OK");
    const pushed = new Promise<ServerResponse>((resolve) => owner.client.onPush((p) => hex(p.entityId) === hex(c.rcvId) && resolve(p.response)));
    expect(outcome(await sendAs(owner.client, c.rcvId, { tag: "SUB" }, k2))).toBe("SOK");
    const msg = await pushed;
    if (msg.tag !== "MSG") throw new Error(`expected MSG, got ${outcome(msg)}`);
    expect(messageText(c, msg.msgId, msg.body)).toBe("join request");
    expect(outcome(await sendAs(owner.client, c.rcvId, { tag: "SUB" }, c.rcvKey)), "the replaced key").toBe("ERR AUTH");
    owner.client.close();
    reader.client.close();
  });
});

describe("DEL", () => {
  it("leaves no storage in the Queue object, nor in the index objects of its sender id and link id", async () => {
    const { client } = await openWithSession();
    for (const mode of ["C", "M"] as const) {
      const q = await created(client, { mode });
      expect(outcome(await send(client, q.sndId, "pending"))).toBe("OK");
      const { name, stub } = await queueObjectOf(q.rcvId);
      // An invitation's link id is sealed by the relay: it has no index object, and none is ever made.
      const indexes = [await indexOf("snd", q.sndId), ...(mode === "C" ? [await indexOf("link", q.linkId)] : [])];
      if (mode === "M") expect((await listed(env.ID_INDEX)).has((await indexOf("link", q.linkId)).objectId)).toBe(false);
      // (With _cf_METADATA too: the pending message's expiry alarm.)
      expect(await runInDurableObject(stub, (_i, state) => tablesOf(state))).toEqual(expect.arrayContaining(["msg", "queue", "_cf_METADATA"]));
      for (const i of indexes) {
        const held = await indexContents(i.stub);
        expect(held.queue).toBe(name);
        expect(held.tables.length).toBeGreaterThan(0);
      }

      expect(outcome(await sendAs(client, q.rcvId, { tag: "DEL" }, q.rcvKey))).toBe("OK");

      expect(await runInDurableObject(stub, (_i, state) => ({ tables: tablesOf(state), kv: [...state.storage.kv.list()].length })), `Queue object (${mode})`).toEqual({ tables: [], kv: 0 });
      for (const i of indexes) expect(await indexContents(i.stub), `index object (${mode})`).toEqual({ queue: undefined, tables: [] });
      expect(outcome(await lget(client, q.linkId))).toBe("ERR AUTH");
      expect(outcome(await send(client, q.sndId, "after DEL"))).toBe("ERR AUTH");
      // Looking at the deleted queue again (the wrong-id SEND and LGET above) made no storage either.
      expect(await runInDurableObject(stub, (_i, state) => tablesOf(state))).toEqual([]);
    }
    client.close();
  });
});

describe("a remembered route going stale", () => {
  it("a Session that looked up a link id and a sender id reaches the queue that holds them now", async () => {
    const owner = await openWithSession();
    const reader = await openWithSession();
    const linkKey = randomBytes(32);
    const corrId = randomBytes(24);
    const first = await created(owner.client, { mode: "C", linkKey, corrId, userData: text("first") });
    // The reader looks both ids up: its Session remembers where they lead.
    expect(lnk(await lget(reader.client, first.linkId)).user).toBe("first");
    expect(outcome(await send(reader.client, first.sndId, "to first"))).toBe("OK");
    const m0 = rpc();
    expect(lnk(await lget(reader.client, first.linkId)).user).toBe("first");
    expect(since(m0), "remembered: no lookup").toEqual({ ...NOTHING, queueCall: 1 });

    expect(outcome(await sendAs(owner.client, first.rcvId, { tag: "DEL" }, first.rcvKey))).toBe("OK");
    // The same link key, a new corrId: the same link id, another sender id, another queue.
    const second = await created(owner.client, { mode: "C", linkKey, userData: text("second") });
    expect(second.linkId).toEqual(first.linkId);
    expect((await queueObjectOf(second.rcvId)).name).not.toBe((await queueObjectOf(first.rcvId)).name);

    // The remembered route leads to the deleted queue (AUTH), so the Session looks the id up once more.
    const m1 = rpc();
    expect(lnk(await lget(reader.client, first.linkId))).toEqual({ sndId: hex(second.sndId), fixed: "fixed data", user: "second" });
    expect(since(m1)).toEqual({ ...NOTHING, queueCall: 2, indexLookup: 1 });
    // And remembers the new route.
    const m2 = rpc();
    expect(lnk(await lget(reader.client, first.linkId)).user).toBe("second");
    expect(since(m2)).toEqual({ ...NOTHING, queueCall: 1 });

    // The sender id: the first NEW's corrId again gives it to a third queue.
    const third = await created(owner.client, { mode: "C", corrId });
    expect(third.sndId).toEqual(first.sndId);
    const m3 = rpc();
    expect(outcome(await send(reader.client, first.sndId, "to third"))).toBe("OK");
    expect(since(m3)).toEqual({ ...NOTHING, queueCall: 2, indexLookup: 1 });
    expect((await queueInfo(owner.client, third)).qiSize).toBe(1);
    expect((await queueInfo(owner.client, second)).qiSize).toBe(0);

    // A queue that still exists but gave its link id up (LDEL), the id then set by another (LSET).
    expect(outcome(await sendAs(owner.client, second.rcvId, { tag: "LDEL" }, second.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(owner.client, third.rcvId, { tag: "LDEL" }, third.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(owner.client, third.rcvId, { tag: "LSET", linkId: first.linkId, fixedData: text("third's"), userData: text("third") }, third.rcvKey))).toBe("OK");
    const m4 = rpc();
    expect(lnk(await lget(reader.client, first.linkId))).toEqual({ sndId: hex(third.sndId), fixed: "third's", user: "third" });
    expect(since(m4)).toEqual({ ...NOTHING, queueCall: 2, indexLookup: 1 });
    owner.client.close();
    reader.client.close();
  });
});

// ---- LSET racing DEL ----
//
// A link id that LSET claims while DEL is under way must not stay claimed by the deleted queue:
// DEL releases, after each await, any index the record has gained meanwhile (queue.ts delete),
// and an LSET whose claim comes back after DEL gives it back under the queue's name taken before
// the await (queue.ts links). Otherwise the link id would lead to a deleted queue for good: LGET
// AUTH, and no queue could take the id again.

/** An environment whose index calls of one kind wait until `open()`; the others go straight through. */
function holdingIndex(method: "claim" | "release"): { env: Env; waiting(): number; open(): void } {
  let gate = false;
  let waiting = 0;
  const pass = (name: string) => env.ID_INDEX.getByName(name);
  const ID_INDEX = {
    getByName: (name: string) => ({
      lookup: () => pass(name).lookup(),
      claim: async (q: string) => {
        if (method === "claim") for (waiting++; !gate; ) await new Promise((r) => setTimeout(r, 5));
        return pass(name).claim(q);
      },
      release: async (q: string) => {
        if (method === "release") for (waiting++; !gate; ) await new Promise((r) => setTimeout(r, 5));
        return pass(name).release(q);
      },
    }),
  };
  return { env: { ...env, ID_INDEX } as unknown as Env, waiting: () => waiting, open: () => (gate = true) };
}

describe("a link id set by LSET while DEL runs does not outlive the queue (found by this file, fixed in queue.ts delete)", () => {
  /** A contact address without a link (LDEL'd), its Queue object running with `e`, and a second connection. */
  async function setUp(e: Env): Promise<{ a: SMPClient; b: SMPClient; q: LinkedQueue; name: string; newLinkKey: Uint8Array }> {
    const a = (await openWithSession()).client;
    const b = (await openWithSession()).client;
    const q = await created(a, { mode: "C" });
    expect(outcome(await sendAs(a, q.rcvId, { tag: "LDEL" }, q.rcvKey))).toBe("OK");
    const { name, stub } = await queueObjectOf(q.rcvId);
    await evict(stub, (state) => new QueueDO(state, e));
    return { a, b, q, name, newLinkKey: randomBytes(32) };
  }

  /** After DEL: the link id's index object holds nothing (not the deleted queue's name), and the id can be taken again. */
  async function linkIdIsFree(conn: SMPClient, linkKey: Uint8Array, deletedQueue: string): Promise<void> {
    const held = await indexContents((await indexOf("link", contactLinkId(linkKey))).stub);
    expect.soft(held.queue === deletedQueue ? "the deleted queue's name" : held.queue, "what the link id's index object holds after DEL").toBeUndefined();
    expect(outcome((await newLinked(conn, { mode: "C", linkKey, subscribe: false })).reply), "a new contact address with that link key").toBe("IDS");
  }

  it("LSET while DEL releases the queue's ids: the queue is already gone for it (AUTH), and after DEL the link id is free", async () => {
    const held = holdingIndex("release");
    const { a, b, q, name, newLinkKey } = await setUp(held.env);
    const del = sendAs(a, q.rcvId, { tag: "DEL" }, q.rcvKey);
    await until("DEL releasing the sender id", () => held.waiting() > 0);
    expect(outcome(await sendAs(b, q.rcvId, { tag: "LSET", linkId: contactLinkId(newLinkKey), fixedData: text("f"), userData: text("u") }, q.rcvKey))).toBe("ERR AUTH");
    held.open();
    expect(outcome(await del)).toBe("OK");
    await linkIdIsFree(b, newLinkKey, name);
    a.close();
    b.close();
  });

  it("DEL completing while an LSET's claim is in flight: after LSET's AUTH, the link id it claimed is free again", async () => {
    const held = holdingIndex("claim");
    const { a, b, q, name, newLinkKey } = await setUp(held.env);
    const lset = sendAs(a, q.rcvId, { tag: "LSET", linkId: contactLinkId(newLinkKey), fixedData: text("f"), userData: text("u") }, q.rcvKey);
    await until("LSET claiming its link id", () => held.waiting() > 0);
    expect(outcome(await sendAs(b, q.rcvId, { tag: "DEL" }, q.rcvKey))).toBe("OK");
    held.open();
    expect(outcome(await lset)).toBe("ERR AUTH");
    await linkIdIsFree(b, newLinkKey, name);
    a.close();
    b.close();
  });
});
