// Short links at the edges of their input (WIRE.md 6.13a), on a live relay over real sockets:
// empty blobs and link ids, 255-byte link ids, blobs near the block, RKEY with many keys and with
// Ed25519 / Ed448 keys, LKEY with Ed keys, LSET with ids the relay sealed, and blocks mixing
// commands on one queue through its different ids. (Written by a review session; the findings it
// showed are fixed, or described in README's protocol notes.)
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { contactLinkId } from "../../src/crypto/linkIds.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateSigningKey, type SigningKey } from "../../src/crypto/signing.js";
import { generateX25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import { encodeBatch } from "../../src/protocol/batch.js";
import type { ClientCommand, ServerResponse } from "../../src/protocol/commands.js";
import { build as buildAs, derEd, send } from "../helpers/authWire.js";
import { derX, newLinked, outcome, sendAs, str, text, type LinkedQueue, created as createdLinked, type LinkedQueueOptions } from "../helpers/linkWire.js";
import { relayForFile } from "../helpers/relayClients.js";

const { client } = relayForFile({ NEW_QUEUES_PER_MINUTE: 10_000 });

/** Made without subscribing (unless asked). */
const created = (conn: SMPClient, o: LinkedQueueOptions): Promise<LinkedQueue> => createdLinked(conn, { subscribe: false, ...o });

function lnk(r: ServerResponse): { sndId: Uint8Array; fixed: Uint8Array; user: Uint8Array } {
  if (r.tag !== "LNK") throw new Error(`expected LNK, got ${outcome(r)}`);
  return { sndId: r.sndId, fixed: r.fixedData, user: r.userData };
}

/** One transmission authorized with an Ed25519 / Ed448 signature. */
const sendSigned = (conn: SMPClient, entityId: Uint8Array, cmd: ClientCommand, k: SigningKey): Promise<ServerResponse> => send(conn, entityId, cmd, { ed25519: k });

/** Builds one transmission (X25519 authenticator or none) without sending it. */
const build = (conn: SMPClient, entityId: Uint8Array, cmd: ClientCommand, key: X25519KeyPair | null): ReturnType<typeof buildAs> =>
  buildAs(conn, entityId, cmd, key === null ? null : { x25519: key.privateKey });

/** Sends several transmissions in ONE block (one frame); resolves with the replies in order. Only on an idle connection. */
async function oneBlock(conn: SMPClient, ts: { corrId: Uint8Array; t: Uint8Array }[]): Promise<string[]> {
  const replies = ts.map((x) => conn.expectReply(x.corrId));
  conn.sendFrame(conn.sealBlock(encodeBatch(ts.map((x) => x.t))));
  return (await Promise.all(replies)).map(outcome);
}

describe("empty blobs and empty link ids", () => {
  it("a contact address with empty fixed and user data: LGET answers LNK with both empty", async () => {
    const [owner, reader] = [await client(), await client()];
    const q = await created(owner, { mode: "C", fixedData: new Uint8Array(0), userData: new Uint8Array(0) });
    const r = lnk(await sendAs(reader, q.linkId, { tag: "LGET" }, null));
    expect(r.fixed.length).toBe(0);
    expect(r.user.length).toBe(0);
    // LSET with the same (empty) fixed data updates the user data.
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData: new Uint8Array(0), userData: text("u2") }, q.rcvKey))).toBe("OK");
    expect(str(lnk(await sendAs(reader, q.linkId, { tag: "LGET" }, null)).user)).toBe("u2");
    // And back to empty user data.
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData: new Uint8Array(0), userData: new Uint8Array(0) }, q.rcvKey))).toBe("OK");
    expect(lnk(await sendAs(reader, q.linkId, { tag: "LGET" }, null)).user.length).toBe(0);
  });

  it("an invitation with empty data: LKEY answers LNK", async () => {
    const [owner, joiner] = [await client(), await client()];
    const q = await created(owner, { mode: "M", fixedData: new Uint8Array(0), userData: new Uint8Array(0) });
    const k = await generateX25519();
    const r = lnk(await sendAs(joiner, q.linkId, { tag: "LKEY", senderKey: derX(k) }, k));
    expect(r.fixed.length + r.user.length).toBe(0);
  });

  it("a contact address with an EMPTY link id: created; LDEL then frees the empty id for another queue", async () => {
    const conn = await client();
    const { reply, queue } = await newLinked(conn, { mode: "C", linkId: new Uint8Array(0), subscribe: false });
    expect(outcome(reply)).toBe("IDS");
    if (reply.tag !== "IDS") return;
    expect(reply.linkId).toEqual(new Uint8Array(0));
    // Taken while the first holds it.
    expect(outcome((await newLinked(conn, { mode: "C", linkId: new Uint8Array(0), subscribe: false })).reply), "taken").toBe("ERR AUTH");
    // Same link id again with the same fixed data: an update, OK.
    expect(outcome(await sendAs(conn, queue!.rcvId, { tag: "LSET", linkId: new Uint8Array(0), fixedData: queue!.fixedData, userData: text("x") }, queue!.rcvKey)), "LSET update").toBe("OK");
    expect(outcome(await sendAs(conn, queue!.rcvId, { tag: "LDEL" }, queue!.rcvKey))).toBe("OK");
    const again = await newLinked(conn, { mode: "C", linkId: new Uint8Array(0), subscribe: false });
    expect(outcome(again.reply), "free after LDEL").toBe("IDS");
    // Clean up: the empty link id is one name on the whole relay.
    expect(outcome(await sendAs(conn, again.queue!.rcvId, { tag: "DEL" }, again.queue!.rcvKey))).toBe("OK");
  });

  it("LSET with an empty link id on a queue without link; DEL frees it", async () => {
    const conn = await client();
    const q = await created(conn, { mode: "C" });
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "LDEL" }, q.rcvKey))).toBe("OK");
    const other = await created(conn, { mode: "C" });
    expect(outcome(await sendAs(conn, other.rcvId, { tag: "LDEL" }, other.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "LSET", linkId: new Uint8Array(0), fixedData: text("f"), userData: text("u") }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(conn, other.rcvId, { tag: "LSET", linkId: new Uint8Array(0), fixedData: text("f"), userData: text("u") }, other.rcvKey)), "taken").toBe("ERR AUTH");
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "DEL" }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(conn, other.rcvId, { tag: "LSET", linkId: new Uint8Array(0), fixedData: text("f"), userData: text("u") }, other.rcvKey)), "free after DEL").toBe("OK");
    // Clean up: the empty link id is a shared name on this relay.
    expect(outcome(await sendAs(conn, other.rcvId, { tag: "DEL" }, other.rcvKey))).toBe("OK");
  });
});

describe("255-byte ids", () => {
  it("a contact address with a 255-byte link id: LGET, LSET, LDEL, and the id is free again", async () => {
    const [owner, reader] = [await client(), await client()];
    const linkId = randomBytes(255);
    const q = await created(owner, { mode: "C", linkId, userData: text("v1") });
    expect(q.linkId).toEqual(linkId);
    expect(str(lnk(await sendAs(reader, linkId, { tag: "LGET" }, null)).user)).toBe("v1");
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId, fixedData: q.fixedData, userData: text("v2") }, q.rcvKey))).toBe("OK");
    expect(str(lnk(await sendAs(reader, linkId, { tag: "LGET" }, null)).user)).toBe("v2");
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LDEL" }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(reader, linkId, { tag: "LGET" }, null))).toBe("ERR AUTH");
    expect((await newLinked(reader, { mode: "C", linkId, subscribe: false })).reply.tag).toBe("IDS");
  });

  it("a 255-byte random entity for every command: ERR AUTH, the connection lives", async () => {
    const conn = await client();
    const id = randomBytes(255);
    const k = await generateX25519();
    for (const cmd of [{ tag: "LGET" }, { tag: "SEND", notify: false, body: text("x") }] as ClientCommand[]) expect(outcome(await sendAs(conn, id, cmd, null))).toBe("ERR AUTH");
    for (const cmd of [{ tag: "LKEY", senderKey: derX(k) }, { tag: "SKEY", senderKey: derX(k) }, { tag: "LDEL" }, { tag: "SUB" }] as ClientCommand[])
      expect(outcome(await sendAs(conn, id, cmd, k))).toBe("ERR AUTH");
    await conn.ping();
  });
});

describe("blobs near the 16 KB block", () => {
  // LSET transmission = 81 (auth) + 1 + 25 (corrId) + 25 (rcvId) + 5 + (1 + L) + (2 + F) + (2 + U) ≤ 16363.
  const MAX_LSET_BLOBS = (linkIdLength: number) => 16363 - (81 + 1 + 25 + 25 + 5 + 1 + linkIdLength + 2 + 2);

  it("LSET with the largest blobs a block carries, then LGET (and its LNK reply fits a block too)", async () => {
    const [owner, reader] = [await client(), await client()];
    const q = await created(owner, { mode: "C", fixedData: new Uint8Array(0) });
    const total = MAX_LSET_BLOBS(q.linkId.length);
    const user = randomBytes(total);
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData: new Uint8Array(0), userData: user }, q.rcvKey))).toBe("OK");
    const r = lnk(await sendAs(reader, q.linkId, { tag: "LGET" }, null));
    expect(r.user).toEqual(user);
    await reader.ping();
  });

  it("an invitation: LSET replacing its user data with the largest a block carries, then LKEY returns it whole", async () => {
    const [owner, joiner] = [await client(), await client()];
    const q = await created(owner, { mode: "M", fixedData: text("f") });
    const user = randomBytes(MAX_LSET_BLOBS(q.linkId.length) - 1);
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData: text("f"), userData: user }, q.rcvKey))).toBe("OK");
    const k = await generateX25519();
    const r = lnk(await sendAs(joiner, q.linkId, { tag: "LKEY", senderKey: derX(k) }, k));
    expect(str(r.fixed)).toBe("f");
    expect(r.user).toEqual(user);
  });
});

describe("an invitation's own relay-chosen link id, after LDEL", () => {
  // Upstream: LSET on an unsecured queue without link data stores it, OK.
  it("NEW M with link data, LDEL, LSET with the same link id: OK, and LKEY then reads it", async () => {
    const [owner, joiner] = [await client(), await client()];
    const q = await created(owner, { mode: "M", fixedData: text("f1"), userData: text("u1") });
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LDEL" }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(owner, q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData: text("f2"), userData: text("u2") }, q.rcvKey))).toBe("OK");
    const k = await generateX25519();
    expect(str(lnk(await sendAs(joiner, q.linkId, { tag: "LKEY", senderKey: derX(k) }, k)).user)).toBe("u2");
  });
});

describe("RKEY edges", () => {
  it("255 X25519 keys: OK; the last key works, a wrong key is AUTH, and the connection lives", async () => {
    const conn = await client();
    const q = await created(conn, { mode: "C" });
    const keys: X25519KeyPair[] = [];
    for (let i = 0; i < 255; i++) keys.push(await generateX25519());
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "RKEY", recipientKeys: keys.map(derX) }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "QUE" }, keys[254]!))).toBe("INFO");
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "QUE" }, await generateX25519()))).toBe("ERR AUTH");
    expect(outcome(await sendAs(conn, randomBytes(24), { tag: "QUE" }, await generateX25519()))).toBe("ERR AUTH");
    await conn.ping();
  });

  it("Ed25519 and Ed448 recipient keys: RKEY accepts them, recipient commands signed with them verify", async () => {
    const conn = await client();
    const q = await created(conn, { mode: "C" });
    const e1 = await generateSigningKey("ed25519");
    const e4 = await generateSigningKey("ed448");
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "RKEY", recipientKeys: [await derEd(e1), await derEd(e4)] }, q.rcvKey))).toBe("OK");
    expect(outcome(await sendSigned(conn, q.rcvId, { tag: "QUE" }, e1)), "Ed25519").toBe("INFO");
    expect(outcome(await sendSigned(conn, q.rcvId, { tag: "QUE" }, e4)), "Ed448").toBe("INFO");
    expect(outcome(await sendSigned(conn, q.rcvId, { tag: "QUE" }, await generateSigningKey("ed448"))), "another Ed448").toBe("ERR AUTH");
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "QUE" }, q.rcvKey)), "the replaced X25519 key").toBe("ERR AUTH");
    // LSET signed with Ed448.
    expect(outcome(await sendSigned(conn, q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData: q.fixedData, userData: text("ed448") }, e4))).toBe("OK");
  });

  it("RKEY with as many Ed448 keys as fit a block: a wrong Ed448 signature is AUTH, and the connection lives", async () => {
    const conn = await client();
    const q = await created(conn, { mode: "C" });
    const keys: Uint8Array[] = [];
    // 69-byte DER + 1 length byte each; the transmission has ~140 bytes of overhead.
    for (let i = 0; i < 230; i++) keys.push(await derEd(await generateSigningKey("ed448")));
    expect(outcome(await sendAs(conn, q.rcvId, { tag: "RKEY", recipientKeys: keys }, q.rcvKey))).toBe("OK");
    const bad = await generateSigningKey("ed448");
    expect(outcome(await sendSigned(conn, q.rcvId, { tag: "QUE" }, bad))).toBe("ERR AUTH");
    expect(outcome(await sendSigned(conn, randomBytes(24), { tag: "QUE" }, bad))).toBe("ERR AUTH");
    await conn.ping();
  });
});

describe("LKEY with signing keys", () => {
  it("Ed25519 and Ed448 sender keys secure an invitation and read it", async () => {
    const [owner, joiner] = [await client(), await client()];
    for (const alg of ["ed25519", "ed448"] as const) {
      const q = await created(owner, { mode: "M", userData: text(alg) });
      const k = await generateSigningKey(alg);
      const r = await sendSigned(joiner, q.linkId, { tag: "LKEY", senderKey: await derEd(k) }, k);
      expect(outcome(r), alg).toBe("LNK");
      expect(str(lnk(r).user)).toBe(alg);
      expect(outcome(await sendSigned(joiner, q.sndId, { tag: "SEND", notify: false, body: text("hi") }, k)), `${alg} SEND`).toBe("OK");
    }
  });
});

describe("LSET with ids the relay sealed for this same queue", () => {
  // A link id must not be one of the relay's sealed ids of another kind: such an id routes as that
  // kind, so LGET could never reach it. Upstream keeps link ids in a map of their own and takes
  // it (README, protocol notes).
  it("the queue's own recipient id or sender id as its link id: ERR AUTH", async () => {
    const conn = await client();
    const rcvKey = await generateX25519();
    const cmd: ClientCommand = { tag: "NEW", rcvAuthKey: derX(rcvKey), rcvDhKey: derX(await generateX25519()), basicAuth: null, subscribe: false, queueReqData: { mode: "C", link: null }, ntfCreds: null };
    const ids = await sendAs(conn, new Uint8Array(0), cmd, rcvKey);
    if (ids.tag !== "IDS") throw new Error(outcome(ids));
    expect(outcome(await sendAs(conn, ids.rcvId, { tag: "LSET", linkId: ids.sndId, fixedData: text("f"), userData: text("u") }, rcvKey))).toBe("ERR AUTH");
    expect(outcome(await sendAs(conn, ids.rcvId, { tag: "LSET", linkId: ids.rcvId, fixedData: text("f"), userData: text("u") }, rcvKey))).toBe("ERR AUTH");
    // Another link id is fine.
    expect(outcome(await sendAs(conn, ids.rcvId, { tag: "LSET", linkId: randomBytes(24), fixedData: text("f"), userData: text("u") }, rcvKey))).toBe("OK");
  });
});

describe("one block, several commands on one queue through different ids", () => {
  it("LDEL (by rcvId) then LGET (by link id) in one block: run in order", async () => {
    const [owner, reader] = [await client(), await client()];
    const q = await created(owner, { mode: "C" });
    // The owner's Session learns the link id's route first.
    expect(outcome(await sendAs(owner, q.linkId, { tag: "LGET" }, null))).toBe("LNK");
    const replies = await oneBlock(owner, [await build(owner, q.rcvId, { tag: "LDEL" }, q.rcvKey), await build(owner, q.linkId, { tag: "LGET" }, null)]);
    expect(replies).toEqual(["OK", "ERR AUTH"]);
    expect(outcome(await sendAs(reader, q.linkId, { tag: "LGET" }, null))).toBe("ERR AUTH");
  });

  it("LKEY (link id), SEND (client-chosen sender id), LKEY again in one block: secured, consumed, then AUTH", async () => {
    const [owner, joiner] = [await client(), await client()];
    const q = await created(owner, { mode: "M" });
    const k = await generateX25519();
    const replies = await oneBlock(joiner, [
      await build(joiner, q.linkId, { tag: "LKEY", senderKey: derX(k) }, k),
      await build(joiner, q.sndId, { tag: "SEND", notify: false, body: text("confirm") }, k),
      await build(joiner, q.linkId, { tag: "LKEY", senderKey: derX(k) }, k),
    ]);
    expect(replies).toEqual(["LNK", "OK", "ERR AUTH"]);
  });

  it("the same client-chosen link id twice in one block from a Session that never saw it: both LGETs answer", async () => {
    const [owner, reader] = [await client(), await client()];
    const q = await created(owner, { mode: "C", linkKey: randomBytes(32) });
    expect(q.linkId).toEqual(q.linkId);
    const replies = await oneBlock(reader, [await build(reader, q.linkId, { tag: "LGET" }, null), await build(reader, q.linkId, { tag: "LGET" }, null), await build(reader, contactLinkId(randomBytes(32)), { tag: "LGET" }, null)]);
    expect(replies).toEqual(["LNK", "LNK", "ERR AUTH"]);
  });
});
