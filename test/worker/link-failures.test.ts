// Short links when one call to an index object fails (an object reset, a network error between
// objects; WIRE.md 6.13a, src/server/newQueue.ts, queueLinks.ts, queue.ts delete): each test makes
// index calls fail and then looks at what is left: no id may lead to a queue that does not exist,
// and no queue may lose an id it still has. (Written by a review session; all three were bugs.)
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { contactLinkId } from "../../src/crypto/linkIds.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import type { ServerResponse } from "../../src/protocol/commands.js";
import { loadQueueIds } from "../../src/server/identityStore.js";
import type { IdIndexDO } from "../../src/server/idIndex.js";
import { QueueDO } from "../../src/server/queue.js";
import type { IndexedKind } from "../../src/server/queueIds.js";
import type { SessionDO } from "../../src/server/session.js";
import { derX, newLinked, outcome, sendAs, text, type LinkedQueue, type LinkedQueueOptions, created as createdLinked } from "../helpers/linkWire.js";
import { evict, queueObjectOf } from "./objects.js";
import { openWithSession } from "./session-of.js";

/** Made without subscribing (unless asked). */
const created = (conn: SMPClient, o: LinkedQueueOptions): Promise<LinkedQueue> => createdLinked(conn, { subscribe: false, ...o });

async function indexOf(kind: IndexedKind, id: Uint8Array): Promise<{ name: string; stub: DurableObjectStub<IdIndexDO> }> {
  const name = (await loadQueueIds(env)).indexName(kind, id);
  return { name, stub: env.ID_INDEX.getByName(name) };
}

function heldBy(stub: DurableObjectStub<IdIndexDO>): Promise<string | undefined> {
  return runInDurableObject(stub, (_i, state) => state.storage.kv.get<string>("queue"));
}

/** An environment whose index objects fail one kind of call for the names `failing` accepts; the rest go straight through. */
function failingIndex(method: "claim" | "release", failing: (name: string) => boolean): Env {
  const real = (name: string) => env.ID_INDEX.getByName(name);
  const ID_INDEX = {
    getByName: (name: string) => ({
      lookup: () => real(name).lookup(),
      claim: async (q: string) => {
        if (method === "claim" && failing(name)) throw new Error("injected: index object unreachable");
        return real(name).claim(q);
      },
      release: async (q: string) => {
        if (method === "release" && failing(name)) throw new Error("injected: index object unreachable");
        return real(name).release(q);
      },
    }),
  };
  return { ...env, ID_INDEX } as unknown as Env;
}

/** The Session serving `session` uses `e` from now on (its remembered routes too). */
async function sessionUses(session: DurableObjectStub<SessionDO>, e: Env): Promise<void> {
  await runInDurableObject(session, (instance) => {
    const target = instance as unknown as { env: Env; routes: unknown };
    target.env = e;
    target.routes = undefined;
  });
}

const lget = (conn: SMPClient, linkId: Uint8Array): Promise<ServerResponse> => sendAs(conn, linkId, { tag: "LGET" }, null);

describe("NEW with link data, one of its two claims failing", () => {
  // The claim that succeeded must be given back, or the link id would belong for good to a queue
  // name that never gets a Queue object.
  it("the sender id's claim fails: ERR INTERNAL; the contact link id must still be free for the same link key", async () => {
    const { client, session } = await openWithSession();
    const linkKey = randomBytes(32);
    const linkIndex = await indexOf("link", contactLinkId(linkKey));
    await sessionUses(session, failingIndex("claim", (name) => name !== linkIndex.name));
    const first = await newLinked(client, { mode: "C", linkKey, subscribe: false });
    expect(outcome(first.reply)).toBe("ERR INTERNAL");
    await sessionUses(session, env);
    expect(await heldBy(linkIndex.stub), "the link id's index object after the failed NEW").toBeUndefined();
    // The client tries again (new corrId, same link key).
    const again = await newLinked(client, { mode: "C", linkKey, subscribe: false });
    expect(outcome(again.reply), "NEW again with the same link key").toBe("IDS");
    client.close();
  });
});

describe("an invitation's link consumed by SEND, the index release failing", () => {
  // The record keeps the index's name until its release succeeds (the next SEND, LDEL or DEL
  // tries again): otherwise the link id would stay taken after the queue is deleted.
  it("after SEND (release fails) and DEL, the link id LSET set is free again", async () => {
    const owner = (await openWithSession()).client;
    const joiner = (await openWithSession()).client;
    const q = await created(owner, { mode: "M" });
    // A link id of the client's choosing (LSET), so it has an index object.
    const linkId = randomBytes(24);
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LDEL" }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId, fixedData: text("f"), userData: text("u") }, q.rcvKey))).toBe("OK");
    const k = await generateX25519();
    expect(outcome(await sendAs(joiner, linkId, { tag: "LKEY", senderKey: derX(k) }, k))).toBe("LNK");

    const { name, stub } = await queueObjectOf(q.rcvId);
    const index = await indexOf("link", linkId);
    await evict(stub, (state) => new QueueDO(state, failingIndex("release", (n) => n === index.name)));
    expect(outcome(await sendAs(joiner, q.sndId, { tag: "SEND", notify: false, body: text("confirmation") }, k))).toBe("OK");
    await evict(stub, (state) => new QueueDO(state, env));
    expect(outcome(await sendAs(joiner, linkId, { tag: "LKEY", senderKey: derX(k) }, k)), "consumed").toBe("ERR AUTH");

    expect(outcome(await sendAs(owner, q.rcvId, { tag: "DEL" }, q.rcvKey))).toBe("OK");
    const held = await heldBy(index.stub);
    expect(held === name ? "the deleted queue" : held, "the link id's index object after DEL").toBeUndefined();
    // Another queue wants that link id.
    const other = await created(owner, { mode: "C" });
    expect(outcome(await sendAs(owner, other.rcvId, { tag: "LDEL" }, other.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(owner, other.rcvId, { tag: "LSET", linkId, fixedData: text("f"), userData: text("u") }, other.rcvKey)), "LSET of the freed link id").toBe("OK");
    owner.close();
    joiner.close();
  });
});

describe("DEL failing halfway", () => {
  // A DEL that could not release every index entry: the queue is gone for every command at once
  // (it is marked "deleting" before the releases), and its alarm finishes the deletion.
  it("the link id's release fails: ERR INTERNAL, the queue answers nothing more, and the alarm frees both ids and the storage", async () => {
    const owner = (await openWithSession()).client;
    const sender = (await openWithSession()).client;
    const q = await created(owner, { mode: "C" });
    const { stub } = await queueObjectOf(q.rcvId);
    const linkIndex = await indexOf("link", q.linkId);
    const sndIndex = await indexOf("snd", q.sndId);
    await evict(stub, (state) => new QueueDO(state, failingIndex("release", (n) => n === linkIndex.name)));
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "DEL" }, q.rcvKey))).toBe("ERR INTERNAL");
    await evict(stub, (state) => new QueueDO(state, env));
    // Gone for everyone, by every id.
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "QUE" }, q.rcvKey))).toBe("ERR AUTH");
    expect(outcome(await lget(sender, q.linkId))).toBe("ERR AUTH");
    expect(outcome(await sendAs(sender, q.sndId, { tag: "SEND", notify: false, body: text("still there?") }, null))).toBe("ERR AUTH");
    expect(await heldBy(linkIndex.stub), "the link id waits for the alarm").toBe((await queueObjectOf(q.rcvId)).name);
    // The alarm finishes it: both ids free, no storage left.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await heldBy(linkIndex.stub)).toBeUndefined();
    expect(await heldBy(sndIndex.stub)).toBeUndefined();
    const tables = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'queue'").toArray().length);
    expect(tables).toBe(0);
    // The link key can make a new address.
    expect(outcome((await newLinked(owner, { mode: "C", linkId: q.linkId, subscribe: false })).reply)).toBe("IDS");
    owner.close();
    sender.close();
  });
});
