// Short links on a live relay (WIRE.md 6.13a; issue 12): contact addresses and one-time
// invitations, between three connections over real WebSockets, and across a relay restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connect, type SMPClient } from "../../src/client/client.js";
import { decryptMessage, parseQueueInfo } from "../../src/client/queues.js";
import { clientSenderId, contactLinkId } from "../../src/crypto/linkIds.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import type { ServerResponse } from "../../src/protocol/commands.js";
import { created, derX, newLinked, outcome, sendAs, str, text } from "../helpers/linkWire.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";
import { relayForFile, WS } from "../helpers/relayClients.js";

const EMPTY = new Uint8Array(0);
const { client } = relayForFile();

/** A connection to a relay of the test's own (the restart test's). */
async function clientOf(r: TestRelay): Promise<SMPClient> {
  return connect(r.wsUrl, r.keyHash, { WebSocket: WS, pingInterval: 0, commandTimeout: 20_000 });
}

function lnk(r: ServerResponse): { sndId: Uint8Array; fixed: string; user: string } {
  if (r.tag !== "LNK") throw new Error(`expected LNK, got ${outcome(r)}`);
  return { sndId: r.sndId, fixed: str(r.fixedData), user: str(r.userData) };
}

describe("a contact address", () => {
  it("is created, read by a third connection, updated, and deleted", async () => {
    const [owner, reader] = [await client(), await client()];
    const linkKey = randomBytes(32);
    const corrId = randomBytes(24);
    const { reply, queue } = await newLinked(owner, { mode: "C", linkKey, corrId, fixedData: text("fixed"), userData: text("v1") });
    expect(reply.tag).toBe("IDS");
    if (reply.tag !== "IDS" || queue === null) return;
    expect(reply.queueMode).toBe("C");
    expect(reply.linkId).toEqual(contactLinkId(linkKey));
    expect(reply.sndId).toEqual(clientSenderId(corrId));

    expect(lnk(await sendAs(reader, queue.linkId, { tag: "LGET" }, null))).toEqual({ sndId: queue.sndId, fixed: "fixed", user: "v1" });

    const lset = (fixed: string, user: string, linkId = queue.linkId) =>
      sendAs(owner, queue.rcvId, { tag: "LSET", linkId, fixedData: text(fixed), userData: text(user) }, queue.rcvKey);
    expect(outcome(await lset("fixed", "v2"))).toBe("OK");
    expect(lnk(await sendAs(reader, queue.linkId, { tag: "LGET" }, null)).user).toBe("v2");
    // The fixed data and the link id never change.
    expect(outcome(await lset("other fixed", "v3"))).toBe("ERR AUTH");
    expect(outcome(await lset("fixed", "v3", randomBytes(24)))).toBe("ERR AUTH");
    expect(lnk(await sendAs(reader, queue.linkId, { tag: "LGET" }, null))).toEqual({ sndId: queue.sndId, fixed: "fixed", user: "v2" });
    // Only the recipient sets it.
    expect(outcome(await sendAs(reader, queue.rcvId, { tag: "LSET", linkId: queue.linkId, fixedData: text("fixed"), userData: text("x") }, await generateX25519()))).toBe("ERR AUTH");

    // A contact address takes unsigned SENDs on its sender id (the joining party's request).
    expect(outcome(await sendAs(reader, queue.sndId, { tag: "SEND", notify: false, body: text("hello") }, null))).toBe("OK");

    expect(outcome(await sendAs(owner, queue.rcvId, { tag: "LDEL" }, queue.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(reader, queue.linkId, { tag: "LGET" }, null))).toBe("ERR AUTH");
    expect(outcome(await sendAs(owner, queue.rcvId, { tag: "LDEL" }, queue.rcvKey)), "LDEL without a link").toBe("OK");
    // The queue itself lives on.
    expect(outcome(await sendAs(reader, queue.sndId, { tag: "SEND", notify: false, body: text("again") }, null))).toBe("OK");
    // And the link can be set again, with the same id (released, now free).
    expect(outcome(await lset("fixed 2", "v4"))).toBe("OK");
    expect(lnk(await sendAs(reader, queue.linkId, { tag: "LGET" }, null))).toEqual({ sndId: queue.sndId, fixed: "fixed 2", user: "v4" });
  });

  it("refuses a sender id not derived from NEW's corrId, and ids that are taken", async () => {
    const conn = await client();
    expect(outcome((await newLinked(conn, { mode: "C", sndId: randomBytes(24) })).reply)).toBe("ERR CMD PROHIBITED");
    expect(outcome((await newLinked(conn, { mode: "M", sndId: randomBytes(24) })).reply)).toBe("ERR CMD PROHIBITED");

    const first = await created(conn, { mode: "C" });
    // Another queue with the same link id: taken.
    expect(outcome((await newLinked(conn, { mode: "C", linkId: first.linkId })).reply)).toBe("ERR AUTH");
    // The same corrId again gives the same sender id: taken too, on any connection.
    const corrId = randomBytes(24);
    await created(conn, { mode: "C", corrId });
    expect(outcome((await newLinked(await client(), { mode: "C", corrId })).reply)).toBe("ERR AUTH");
    expect(outcome((await newLinked(conn, { mode: "M", corrId })).reply)).toBe("ERR AUTH");
    // A refused NEW claimed nothing: the link id it asked for is still free.
    const linkKey = randomBytes(32);
    expect(outcome((await newLinked(conn, { mode: "C", corrId, linkKey })).reply)).toBe("ERR AUTH");
    expect((await newLinked(conn, { mode: "C", linkKey })).reply.tag).toBe("IDS");
    // The first address is untouched by all this.
    expect(lnk(await sendAs(conn, first.linkId, { tag: "LGET" }, null)).sndId).toEqual(first.sndId);
  });

  it("takes new recipient keys with RKEY: every recipient command then verifies against them", async () => {
    const [owner, other] = [await client(), await client()];
    const q = await created(owner, { mode: "C", subscribe: false });
    const [k1, k2] = [await generateX25519(), await generateX25519()];
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "RKEY", recipientKeys: [derX(k1), derX(k2)] }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(other, q.rcvId, { tag: "SUB" }, q.rcvKey)), "the old key").toBe("ERR AUTH");
    expect(outcome(await sendAs(other, q.rcvId, { tag: "SUB" }, k2))).toBe("SOK");
    expect(outcome(await sendAs(other, q.rcvId, { tag: "QUE" }, k1))).toBe("INFO");
    // Not a key: a syntax error, before anything else.
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "RKEY", recipientKeys: [text("not a key")] }, k1))).toBe("ERR CMD SYNTAX");
    // Messaging queues keep their one key.
    const m = await created(owner, { mode: "M", subscribe: false });
    expect(outcome(await sendAs(owner, m.rcvId, { tag: "RKEY", recipientKeys: [derX(k1)] }, m.rcvKey))).toBe("ERR AUTH");
  });

  it("goes with its queue on DEL: the link, the sender id, and both ids are free again", async () => {
    const [owner, reader] = [await client(), await client()];
    const linkKey = randomBytes(32);
    const corrId = randomBytes(24);
    const q = await created(owner, { mode: "C", linkKey, corrId });
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "DEL" }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(reader, q.linkId, { tag: "LGET" }, null))).toBe("ERR AUTH");
    expect(outcome(await sendAs(reader, q.sndId, { tag: "SEND", notify: false, body: text("x") }, null))).toBe("ERR AUTH");
    const again = await newLinked(owner, { mode: "C", linkKey, corrId });
    expect(outcome(again.reply)).toBe("IDS");
  });
});

describe("a one-time invitation", () => {
  it("is secured and read in one step by LKEY, and consumed by the first SEND", async () => {
    const [owner, joiner, stranger] = [await client(), await client(), await client()];
    const pushes: ServerResponse[] = [];
    owner.onPush((p) => pushes.push(p.response));
    const q = await created(owner, { mode: "M", fixedData: text("invitation"), userData: text("hi") });
    // The relay chose the link id: not the sender id, not the recipient id.
    expect(q.linkId).toHaveLength(24);
    expect(q.linkId).not.toEqual(q.sndId);
    // Invitations are not readable with LGET.
    expect(outcome(await sendAs(stranger, q.linkId, { tag: "LGET" }, null))).toBe("ERR AUTH");

    const senderKey = await generateX25519();
    expect(lnk(await sendAs(joiner, q.linkId, { tag: "LKEY", senderKey: derX(senderKey) }, senderKey))).toEqual({ sndId: q.sndId, fixed: "invitation", user: "hi" });
    const info = await sendAs(owner, q.rcvId, { tag: "QUE" }, q.rcvKey);
    expect(info.tag === "INFO" && parseQueueInfo(info.json).qiSnd, "secured").toBe(true);
    // The same key again is fine; another key is not.
    expect(outcome(await sendAs(joiner, q.linkId, { tag: "LKEY", senderKey: derX(senderKey) }, senderKey))).toBe("LNK");
    const otherKey = await generateX25519();
    expect(outcome(await sendAs(stranger, q.linkId, { tag: "LKEY", senderKey: derX(otherKey) }, otherKey))).toBe("ERR AUTH");
    // Secured: the user data can no longer be changed.
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData: text("invitation"), userData: text("x") }, q.rcvKey))).toBe("ERR AUTH");

    expect(outcome(await sendAs(joiner, q.sndId, { tag: "SEND", notify: true, body: text("confirmation") }, senderKey))).toBe("OK");
    expect(outcome(await sendAs(joiner, q.linkId, { tag: "LKEY", senderKey: derX(senderKey) }, senderKey)), "consumed").toBe("ERR AUTH");
    await expect.poll(() => pushes.length, { timeout: 20_000 }).toBe(1);
    const d = pushes[0]!;
    if (d.tag !== "MSG") throw new Error(`expected MSG, got ${outcome(d)}`);
    const m = decryptMessage({ dhSecret: q.dhSecret }, d.msgId, d.body);
    expect(m.quota ? "" : str(m.body)).toBe("confirmation");
    // The queue carries the conversation on, through the sender id the client chose.
    expect(outcome(await sendAs(joiner, q.sndId, { tag: "SEND", notify: true, body: text("second") }, senderKey))).toBe("OK");
  });

  it("LKEY on a contact address, SKEY on an invitation's link id, LSET with another queue's sealed link id: AUTH", async () => {
    const conn = await client();
    const c = await created(conn, { mode: "C" });
    const m = await created(conn, { mode: "M" });
    const k = await generateX25519();
    expect(outcome(await sendAs(conn, c.linkId, { tag: "LKEY", senderKey: derX(k) }, k))).toBe("ERR AUTH");
    expect(outcome(await sendAs(conn, m.linkId, { tag: "SKEY", senderKey: derX(k) }, k))).toBe("ERR AUTH");
    expect(outcome(await sendAs(conn, m.linkId, { tag: "SEND", notify: false, body: text("x") }, null))).toBe("ERR AUTH");
    expect(outcome(await sendAs(conn, m.rcvId, { tag: "LGET" }, null))).toBe("ERR AUTH");
    // c's owner tries to take m's (relay-sealed) link id: refused.
    expect(outcome(await sendAs(conn, c.rcvId, { tag: "LDEL" }, c.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(conn, c.rcvId, { tag: "LSET", linkId: m.linkId, fixedData: text("f"), userData: text("u") }, c.rcvKey))).toBe("ERR AUTH");
    const lkey = await sendAs(conn, m.linkId, { tag: "LKEY", senderKey: derX(k) }, k);
    expect(lnk(lkey).sndId).toEqual(m.sndId);
  });
});

describe("forged and missing ids", () => {
  it("are ERR AUTH for every short-link command", async () => {
    const conn = await client();
    const k = await generateX25519();
    for (const id of [randomBytes(24), contactLinkId(randomBytes(32)), randomBytes(7)]) {
      expect(outcome(await sendAs(conn, id, { tag: "LGET" }, null))).toBe("ERR AUTH");
      expect(outcome(await sendAs(conn, id, { tag: "LKEY", senderKey: derX(k) }, k))).toBe("ERR AUTH");
      expect(outcome(await sendAs(conn, id, { tag: "SEND", notify: false, body: text("x") }, null))).toBe("ERR AUTH");
      expect(outcome(await sendAs(conn, id, { tag: "LSET", linkId: id, fixedData: EMPTY, userData: EMPTY }, k))).toBe("ERR AUTH");
      expect(outcome(await sendAs(conn, id, { tag: "LDEL" }, k))).toBe("ERR AUTH");
      expect(outcome(await sendAs(conn, id, { tag: "RKEY", recipientKeys: [derX(k)] }, k))).toBe("ERR AUTH");
    }
  });
});

describe("after a relay restart", () => {
  it("addresses and invitations still resolve, and a new link id is refused if taken", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smp-links-"));
    try {
      let r = await startLocalTestRelay({ persistTo: dir });
      let conn = await clientOf(r);
      const c = await created(conn, { mode: "C", userData: text("kept") });
      const m = await created(conn, { mode: "M" });
      conn.close();
      await r.stop();
      r = await startLocalTestRelay({ persistTo: dir });
      try {
        conn = await clientOf(r);
        expect(lnk(await sendAs(conn, c.linkId, { tag: "LGET" }, null)).user).toBe("kept");
        expect(outcome((await newLinked(conn, { mode: "C", linkId: c.linkId })).reply)).toBe("ERR AUTH");
        const k = await generateX25519();
        expect(lnk(await sendAs(conn, m.linkId, { tag: "LKEY", senderKey: derX(k) }, k)).sndId).toEqual(m.sndId);
        expect(outcome(await sendAs(conn, m.sndId, { tag: "SEND", notify: false, body: text("x") }, k))).toBe("OK");
        expect(outcome(await sendAs(conn, c.sndId, { tag: "SEND", notify: false, body: text("x") }, null))).toBe("OK");
        conn.close();
      } finally {
        await r.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
