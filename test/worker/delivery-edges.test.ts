// Edges found by a review of the delivery rewrite (issue 10), each failing before its fix: a check
// order that differed from upstream's server (Server.hs sendMessage; Protocol.hs parses KEY's key)
// and a push that failed once leaving a live subscriber with nothing delivered.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createQueue, sendMessage, suspend } from "../../src/client/queues.js";
import { QueueDO } from "../../src/server/queue.js";
import type { SessionDO } from "../../src/server/session.js";
import { evict, queueObjectOf } from "./objects.js";
import { closeAll, open, rcv, said, until, watch } from "./watched-conn.js";

const utf8 = new TextEncoder();

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
    const { stub } = await queueObjectOf(q.rcvId);
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
