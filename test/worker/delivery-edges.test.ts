// Edges found by a review of the delivery rewrite (issue 10), each failing before its fix: a check
// order that differed from upstream's server (Server.hs sendMessage; Protocol.hs parses KEY's key)
// and a push that failed once leaving a live subscriber with nothing delivered.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { createQueue, decryptMessage, register, sendMessage, suspend, type RecipientQueue } from "../../src/client/queues.js";
import type { ClientCommand, ServerResponse } from "../../src/protocol/commands.js";
import { hex } from "../../src/protocol/encoding.js";
import { loadQueueIds } from "../../src/server/identityStore.js";
import { QueueDO } from "../../src/server/queue.js";
import type { SessionDO } from "../../src/server/session.js";
import { openWithSession } from "./session-of.js";

const utf8 = new TextEncoder();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Conn {
  client: SMPClient;
  session: DurableObjectStub<SessionDO>;
  pushes: string[];
}

async function until(what: string, ready: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

async function open(q?: RecipientQueue): Promise<Conn> {
  const { client, session } = await openWithSession();
  const c: Conn = { client, session, pushes: [] };
  if (q) watch(c, q);
  return c;
}

function watch(c: Conn, q: RecipientQueue): void {
  register(c.client, q);
  c.client.onPush((p) => {
    if (hex(p.entityId) !== hex(q.rcvId)) return;
    const r = p.response;
    if (r.tag === "MSG") c.pushes.push(`MSG ${bodyOf(q, r)}`);
    else if (r.tag === "END" || r.tag === "DELD") c.pushes.push(r.tag);
  });
}

function bodyOf(q: RecipientQueue, r: ServerResponse): string {
  if (r.tag !== "MSG") return r.tag === "ERR" ? `ERR ${r.code}` : r.tag;
  const m = decryptMessage(q, r.msgId, r.body);
  return m.quota ? "QUOTA" : text(m.body);
}

function rcv(c: Conn, q: RecipientQueue, cmd: ClientCommand): Promise<ServerResponse> {
  return c.client.request(q.rcvId, cmd, { x25519PrivateKey: q.rcvAuthKey.privateKey });
}

const said = (q: RecipientQueue, r: ServerResponse): string => (r.tag === "MSG" ? `MSG ${bodyOf(q, r)}` : r.tag === "ERR" ? `ERR ${r.code}` : r.tag);

async function queueObject(q: RecipientQueue): Promise<{ name: string; stub: DurableObjectStub<QueueDO> }> {
  const routed = (await loadQueueIds(env)).open(q.rcvId);
  if (routed === null) throw new Error("rcvId does not open");
  return { name: routed.queue, stub: env.QUEUE.getByName(routed.queue) };
}

const closeAll = (...cs: Conn[]): void => cs.forEach((c) => c.client.isOpen && c.client.close());

// ---- 1. Reply and check order against Server.hs ----

describe("check order of SEND (Server.hs sendMessage: the length is checked before the queue status)", () => {
  it("an oversized SEND to a suspended (OFF) queue is ERR LARGE_MSG, as upstream, not ERR AUTH", async () => {
    const owner = await open();
    const q = await createQueue(owner.client, { subscribe: false });
    await suspend(owner.client, q);
    const s = await open();
    const r = await s.client.request(q.sndId, { tag: "SEND", notify: false, body: new Uint8Array(16049) });
    expect(said(q, r)).toBe("ERR LARGE_MSG");
    closeAll(owner, s);
  });
});

describe("KEY / SKEY with a sender key that is not a key (Protocol.hs: KEY <$> _smpP parses an APublicAuthKey)", () => {
  it("KEY with a malformed key is ERR CMD SYNTAX (a parse error, before any queue is looked at), not ERR AUTH", async () => {
    const owner = await open();
    const q = await createQueue(owner.client, { subscribe: false });
    const r = await rcv(owner, q, { tag: "KEY", senderKey: utf8.encode("not a DER key") });
    expect(said(q, r)).toBe("ERR CMD SYNTAX");
    closeAll(owner);
  });

  it("SKEY with a malformed key is ERR CMD SYNTAX, not ERR AUTH", async () => {
    const owner = await open();
    const q = await createQueue(owner.client, { subscribe: false, mode: "M" });
    const s = await open();
    const r = await s.client.request(q.sndId, { tag: "SKEY", senderKey: utf8.encode("not a DER key") }, { x25519PrivateKey: q.rcvAuthKey.privateKey });
    expect(said(q, r)).toBe("ERR CMD SYNTAX");
    closeAll(owner, s);
  });
});

/** The object forgets its memory, as after an eviction and a wake (faults.test.ts's evict). */
async function evict<T extends Rpc.DurableObjectBranded>(stub: DurableObjectStub<T>, make: (state: DurableObjectState) => object): Promise<void> {
  await runInDurableObject(stub, (instance, state) => {
    const fresh = make(state) as Record<string, unknown>;
    const target = instance as unknown as Record<string, unknown>;
    for (const k of Object.keys(target)) if (!(k in fresh)) delete target[k];
    Object.assign(target, fresh);
  });
}

// ---- 2. Silent stalls ----

/**
 * An environment whose first push from the Queue object fails the way an RPC to another object
 * can (the call rejects: an overloaded or briefly unreachable object, a reset); later pushes go
 * through.
 */
function envFailingFirstPush(): Env {
  let failed = false;
  const SESSION = {
    idFromString: (s: string) => env.SESSION.idFromString(s),
    get: (id: DurableObjectId) => ({
      push: (...args: Parameters<SessionDO["push"]>) => {
        if (!failed) {
          failed = true;
          return Promise.reject(new Error("Network connection lost."));
        }
        return env.SESSION.get(id).push(...args);
      },
    }),
  };
  return { ...env, SESSION } as unknown as Env;
}

describe("a push that fails once, to a subscriber whose connection is fine", () => {
  it("the message and the ones after it still reach the subscriber (upstream: tryDeliverMessage writes to the client's queue in the same transaction)", async () => {
    const r = await open();
    const q = await createQueue(r.client, { subscribe: true });
    watch(r, q);
    const s = await open();
    const { stub } = await queueObject(q);
    await evict(stub, (state) => new QueueDO(state, envFailingFirstPush()));
    await sendMessage(s.client, q.sndId, utf8.encode("m1"));
    await sendMessage(s.client, q.sndId, utf8.encode("m2"));
    // The subscriber's connection is healthy all along.
    await r.client.ping();
    // The failed push is tried again: m1 arrives (and m2 waits behind it for m1's ACK).
    await until("a message reaches the subscriber", () => r.pushes.length > 0, 3000);
    expect(r.pushes[0]).toBe("MSG m1");
    closeAll(r, s);
  });
});
