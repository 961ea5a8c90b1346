// The admin API (src/server/admin.ts, adminAuth.ts; README "Admin API") on a live relay: absent
// without ADMIN_TOKEN, refusing no token and a wrong one alike, and queue blocking, unblocking and
// deletion as the queue's clients see them over real WebSockets.
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { createQueue, decryptMessage, type RecipientQueue } from "../../src/client/queues.js";
import { base64url } from "../../src/protocol/base64.js";
import type { ServerResponse } from "../../src/protocol/commands.js";
import { randomBytes } from "../../src/crypto/random.js";
import { FAIL_LIMIT } from "../../src/server/adminAuth.js";
import { newLinked, outcome, sendAs, str, text, type LinkedQueue } from "../helpers/linkWire.js";
import { startLocalTestRelay } from "../helpers/localRelay.js";
import { pushesOf, relayForFile } from "../helpers/relayClients.js";

const TOKEN = "test-admin-token-3b8f0c7e9d2a41f6";
const { relay, client } = relayForFile({ ADMIN_TOKEN: TOKEN });

const id64 = (id: Uint8Array): string => base64url.encode(id);

function adminFetch(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token = TOKEN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return fetch(`${relay().httpUrl}/admin${path}`, { method: "POST", ...rest, headers });
}

const block = (id: Uint8Array, body: unknown) => adminFetch(`/queues/${id64(id)}/block`, { body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const unblock = (id: Uint8Array) => adminFetch(`/queues/${id64(id)}/unblock`);

const rcvAuth = (q: RecipientQueue) => ({ x25519PrivateKey: q.rcvAuthKey.privateKey });
const send = (c: SMPClient, sndId: Uint8Array, body: string) => c.request(sndId, { tag: "SEND", notify: false, body: text(body) });
const sub = (c: SMPClient, q: RecipientQueue) => c.request(q.rcvId, { tag: "SUB" }, rcvAuth(q));


function body(q: Pick<RecipientQueue, "dhSecret">, r: ServerResponse): string {
  if (r.tag !== "MSG") throw new Error(`expected MSG, got ${outcome(r)}`);
  const m = decryptMessage(q, r.msgId, r.body);
  if (m.quota) throw new Error("quota marker");
  return str(m.body);
}

describe("without ADMIN_TOKEN", () => {
  it("every /admin path answers 404, exactly like an unknown path", async () => {
    const r = await startLocalTestRelay();
    try {
      const unknown = await fetch(`${r.httpUrl}/no-such-path`);
      const unknownBody = await unknown.text();
      expect(unknown.status).toBe(404);
      for (const [path, method] of [
        ["/admin", "GET"],
        ["/admin/queues/AAAA/block", "POST"],
        ["/admin/queues/AAAA", "DELETE"],
        ["/admin/identity/backup", "POST"],
      ] as const) {
        const res = await fetch(`${r.httpUrl}${path}`, { method, headers: { authorization: "Bearer anything" } });
        expect(res.status, path).toBe(404);
        expect(await res.text(), path).toBe(unknownBody);
        expect(res.headers.get("content-type"), path).toBe(unknown.headers.get("content-type"));
      }
    } finally {
      await r.stop();
    }
  });
});

describe("with ADMIN_TOKEN", () => {
  it("refuses no token, another scheme and a wrong token (also one that is not ASCII) with the same 401", async () => {
    const q = (await createQueue(await client(), { subscribe: false })).rcvId;
    const answers = await Promise.all([
      block(q, { reason: "spam" }).then((r) => r), // the right one, for contrast: not counted below
      adminFetch(`/queues/${id64(q)}/block`, { token: null }),
      adminFetch(`/queues/${id64(q)}/block`, { token: null, headers: { authorization: `Basic ${btoa(`admin:${TOKEN}`)}` } }),
      adminFetch(`/queues/${id64(q)}/block`, { token: `${TOKEN}x` }),
      adminFetch(`/queues/${id64(q)}/block`, { token: TOKEN.slice(0, -1) }),
      // Not ASCII (a header may carry Latin-1): wrong like any other, not a failure of ours.
      adminFetch(`/queues/${id64(q)}/block`, { token: `${TOKEN}\u00e9` }),
    ]);
    expect(answers[0]!.status).toBe(200);
    const refused = answers.slice(1);
    const bodies = await Promise.all(refused.map((r) => r.text()));
    for (const r of refused) expect(r.status).toBe(401);
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0]!)).toEqual({ error: "unauthorized" });
    await unblock(q);
  });

  it("an unknown id, a forged one and one that is not base64url are 404", async () => {
    for (const id of [id64(randomBytes(24)), id64(randomBytes(5)), "not*base64"]) {
      const res = await adminFetch(`/queues/${id}/block`, { body: JSON.stringify({ reason: "spam" }) });
      expect(res.status, id).toBe(404);
      expect((await adminFetch(`/queues/${id}/delete`)).status, id).toBe(404);
    }
  });

  it("refuses a block request that is not one (400)", async () => {
    const q = await createQueue(await client(), { subscribe: false });
    for (const bad of [{}, { reason: "other" }, { reason: "spam", notice: { ttl: -1 } }, { reason: "spam", notice: 5 }, { reason: "spam", extra: 1 }]) {
      expect((await block(q.rcvId, bad)).status, JSON.stringify(bad)).toBe(400);
    }
    expect((await adminFetch(`/queues/${id64(q.rcvId)}/block`, { body: "{" })).status).toBe(400);
  });

  it("block by recipient id: SEND and SUB get ERR BLOCKED, messages are kept and delivered after unblock", async () => {
    const [rc, sc, other] = [await client(), await client(), await client()];
    const q = await createQueue(rc, { subscribe: false });
    expect(outcome(await send(sc, q.sndId, "before the block"))).toBe("OK");

    const res = await block(q.rcvId, { reason: "spam" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ blocked: true, clientsGet: "ERR BLOCKED reason=spam" });

    expect(outcome(await send(sc, q.sndId, "while blocked"))).toBe("ERR BLOCKED reason=spam");
    expect(outcome(await sub(rc, q))).toBe("ERR BLOCKED reason=spam");
    expect(outcome(await rc.request(q.rcvId, { tag: "GET" }, rcvAuth(q)))).toBe("ERR BLOCKED reason=spam");
    expect(outcome(await rc.request(q.rcvId, { tag: "QUE" }, rcvAuth(q)))).toBe("ERR BLOCKED reason=spam");
    // Without the queue's key it is still AUTH: the block is told only to those who hold one.
    expect(outcome(await other.request(q.rcvId, { tag: "SUB" }, rcvAuth({ ...q, rcvAuthKey: (await createQueue(other, { subscribe: false })).rcvAuthKey })))).toBe("ERR AUTH");

    // With a notice, as WIRE.md 6.16 spells it; a second block replaces the first.
    expect((await block(q.rcvId, { reason: "content", notice: { ttl: 86400 } })).status).toBe(200);
    expect(outcome(await send(sc, q.sndId, "x"))).toBe('ERR BLOCKED reason=content,notice={"ttl":86400}');
    expect(outcome(await sub(rc, q))).toBe('ERR BLOCKED reason=content,notice={"ttl":86400}');
    expect((await block(q.sndId, { reason: "spam", notice: {} })).status).toBe(200);
    expect(outcome(await send(sc, q.sndId, "x"))).toBe("ERR BLOCKED reason=spam,notice={}");
    expect(outcome(await sub(rc, q))).toBe("ERR BLOCKED reason=spam,notice={}");

    const un = await unblock(q.rcvId);
    expect(un.status).toBe(200);
    expect(await un.json()).toEqual({ blocked: false });
    const pushes = pushesOf(rc);
    expect(outcome(await sub(rc, q))).toBe("SOK");
    const first = await pushes.next();
    expect(body(q, first.response)).toBe("before the block");
    if (first.response.tag !== "MSG") return;
    expect(outcome(await rc.request(q.rcvId, { tag: "ACK", msgId: first.response.msgId }, rcvAuth(q)))).toBe("OK");
    expect(outcome(await send(sc, q.sndId, "after"))).toBe("OK");
    expect(body(q, (await pushes.next()).response)).toBe("after");
  });

  it("a subscriber's ACK is blocked too, and the recipient may still delete a blocked queue", async () => {
    const [rc, sc] = [await client(), await client()];
    const pushes = pushesOf(rc);
    const q = await createQueue(rc, { subscribe: true });
    expect(outcome(await send(sc, q.sndId, "m"))).toBe("OK");
    const m = (await pushes.next()).response;
    expect(m.tag).toBe("MSG");
    if (m.tag !== "MSG") return;
    expect((await block(q.rcvId, { reason: "content" })).status).toBe(200);
    expect(outcome(await rc.request(q.rcvId, { tag: "ACK", msgId: m.msgId }, rcvAuth(q)))).toBe("ERR BLOCKED reason=content");
    expect(outcome(await rc.request(q.rcvId, { tag: "DEL" }, rcvAuth(q)))).toBe("OK");
    expect((await unblock(q.rcvId)).status).toBe(404);
  });

  it("block by a sender id the client chose (short-link data), through its index object", async () => {
    const [rc, sc] = [await client(), await client()];
    const { reply, queue } = await newLinked(rc, { mode: "C", subscribe: false });
    if (queue === null) throw new Error(`NEW failed: ${outcome(reply)}`);
    const linked: LinkedQueue = queue;
    // A client-chosen id is not one the relay sealed: the admin API must look it up.
    expect(outcome(await sendAs(sc, linked.sndId, { tag: "SEND", notify: false, body: text("hi") }, null))).toBe("OK");
    expect((await block(linked.sndId, { reason: "spam" })).status).toBe(200);
    expect(outcome(await sendAs(sc, linked.sndId, { tag: "SEND", notify: false, body: text("again") }, null))).toBe("ERR BLOCKED reason=spam");
    expect(outcome(await sendAs(sc, linked.linkId, { tag: "LGET" }, null))).toBe("ERR BLOCKED reason=spam");
    expect(outcome(await sendAs(rc, linked.rcvId, { tag: "SUB" }, linked.rcvKey))).toBe("ERR BLOCKED reason=spam");
    // The link id is not a way to name a queue to the admin API.
    expect((await block(linked.linkId, { reason: "spam" })).status).toBe(404);
    expect((await unblock(linked.sndId)).status).toBe(200);
    expect(outcome(await sendAs(sc, linked.sndId, { tag: "SEND", notify: false, body: text("after") }, null))).toBe("OK");
    // Deleting by that sender id releases it: afterwards it leads nowhere.
    expect((await adminFetch(`/queues/${id64(linked.sndId)}`, { method: "DELETE" })).status).toBe(200);
    expect(outcome(await sendAs(sc, linked.sndId, { tag: "SEND", notify: false, body: text("gone") }, null))).toBe("ERR AUTH");
    expect(outcome(await sendAs(sc, linked.linkId, { tag: "LGET" }, null))).toBe("ERR AUTH");
    expect((await unblock(linked.sndId)).status).toBe(404);
  });

  it("delete: DELD to the subscriber, then ERR AUTH for everyone, and 404 for the admin", async () => {
    const [rc, sc] = [await client(), await client()];
    const pushes = pushesOf(rc);
    const q = await createQueue(rc, { subscribe: true });
    expect(outcome(await send(sc, q.sndId, "pending"))).toBe("OK");
    expect((await pushes.next()).response.tag).toBe("MSG");
    expect((await block(q.rcvId, { reason: "spam" })).status).toBe(200);
    const res = await adminFetch(`/queues/${id64(q.rcvId)}/delete`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: true });
    const deld = await pushes.next();
    expect(deld.response.tag).toBe("DELD");
    expect(deld.entityId).toEqual(q.rcvId);
    expect(outcome(await send(sc, q.sndId, "x"))).toBe("ERR AUTH");
    expect(outcome(await sub(rc, q))).toBe("ERR AUTH");
    expect((await adminFetch(`/queues/${id64(q.rcvId)}/delete`)).status).toBe(404);
    expect((await adminFetch(`/queues/${id64(q.sndId)}/delete`)).status).toBe(404);
  });

  // Last: it locks this relay's admin API for a minute.
  it(`locks the API (429) after ${FAIL_LIMIT} failures in a minute, the right token included`, async () => {
    const q = await createQueue(await client(), { subscribe: false });
    // The earlier tests' refusals count too (same minute, same isolate): 401s until the limit, then 429.
    const statuses: number[] = [];
    for (let i = 0; i < FAIL_LIMIT; i++) statuses.push((await adminFetch(`/queues/${id64(q.rcvId)}/unblock`, { token: `wrong-${i}` })).status);
    expect(statuses[0]).toBe(401);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(FAIL_LIMIT);
    expect(statuses.every((s, i) => s === 401 || (s === 429 && statuses.slice(i).every((t) => t === 429)))).toBe(true);
    const locked = await unblock(q.rcvId);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});
