// The client's short-link API (src/client/links.ts) against a fake relay (test/helpers/fakeRelay.ts):
// the exact transmissions each function puts on the wire, checked against test/fixtures/link-vectors.json
// (hand-assembled from WIRE.md) with our keys and ids put in, the ids derived as node:crypto computes
// them (SHA3-384, HKDF-SHA512), the authorizations verified with the relay's session key, and the
// handling of every kind of reply.
import { createHash, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  createContactAddress,
  createInvitation,
  deleteLinkData,
  getLinkData,
  secureInvitationLink,
  setLinkData,
  setRecipientKeys,
  shortLinkFor,
  type LinkData,
} from "../../src/client/links.js";
import { SMPProtocolError } from "../../src/client/errors.js";
import { deleteQueue, UnexpectedReplyError, type RecipientQueue } from "../../src/client/queues.js";
import { parseShortLink, ShortLinkError } from "../../src/protocol/shortLink.js";
import { verifyAuthorization } from "../../src/crypto/authenticator.js";
import { clientSenderId, contactLinkId } from "../../src/crypto/linkIds.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519, x25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import { base64url } from "../../src/protocol/base64.js";
import type { IdsResponse, ServerResponse } from "../../src/protocol/commands.js";
import { transmissionForAuth } from "../../src/protocol/transmission.js";
import { FakeRelay, until, type Received } from "../helpers/fakeRelay.js";
import { ascii, h, hx, X25519_DER_PREFIX } from "./vectors.js";

// ---- independent derivations (node:crypto, not src/) ----

const nodeSenderId = (corrId: Uint8Array): Uint8Array => new Uint8Array(createHash("sha3-384").update(corrId).digest()).slice(0, 24);
const nodeContactLinkId = (linkKey: Uint8Array): Uint8Array =>
  new Uint8Array(hkdfSync("sha512", linkKey, new Uint8Array(0), ascii("SimpleXContactLink"), 56)).slice(0, 24);
const der = (k: X25519KeyPair): string => X25519_DER_PREFIX + hx(k.publicKey);

// ---- the link vectors ----

interface LinkVector {
  name: string;
  value: Record<string, string | string[] | boolean | null>;
  hex: string;
}
const vectors = new Map(
  (JSON.parse(readFileSync(new URL("../fixtures/link-vectors.json", import.meta.url), "utf8")) as { vectors: LinkVector[] }).vectors.map((v) => [v.name, v]),
);
const vec = (name: string): LinkVector => vectors.get(name)!;
const field = (v: LinkVector, k: string): string => v.value[k] as string;

/** A vector's hex with some of its fields' hex replaced by ours; each must occur exactly once. */
function withFields(v: LinkVector, replace: Record<string, string>): string {
  let out = v.hex;
  for (const [k, ours] of Object.entries(replace)) {
    const theirs = field(v, k);
    expect(out.split(theirs)).toHaveLength(2);
    out = out.replace(theirs, ours);
  }
  return out;
}

// ---- driving the fake relay ----

/** Starts `call`, waits for its transmission, answers it with `reply`, and returns both. */
async function exchange<T>(relay: FakeRelay, call: () => Promise<T>, reply: (t: Received) => ServerResponse): Promise<{ t: Received; result: Promise<T> }> {
  const before = relay.transmissions.length;
  const result = call();
  result.catch(() => {}); // inspected by the caller
  await until(() => relay.transmissions.length > before, "the command reached the relay");
  const t = relay.transmissions[before]!;
  relay.answer([t], reply);
  return { t, result };
}

/** Whether the transmission's authorization verifies against this X25519 public key. */
function verifies(relay: FakeRelay, t: Received, publicKey: Uint8Array): Promise<boolean> {
  return verifyAuthorization({ alg: "x25519", raw: publicKey }, t.authorization, transmissionForAuth(relay.client.sessionId, t.signed), t.corrId, relay.serverSessionPrivateKey);
}

const srvDh = await generateX25519();
function ids(t: Received, over: Partial<IdsResponse> = {}): IdsResponse {
  if (t.command.tag !== "NEW") throw new Error(`expected NEW, got ${t.command.tag}`);
  const link = t.command.queueReqData?.link ?? null;
  return {
    tag: "IDS",
    rcvId: randomBytes(24),
    sndId: link?.sndId ?? randomBytes(24),
    srvDhKey: h(der(srvDh)),
    queueMode: t.command.queueReqData?.mode ?? null,
    linkId: link === null ? null : (link.linkId ?? randomBytes(24)),
    serviceId: null,
    serverNtfCreds: null,
    ...over,
  };
}

const rcvKeysOf = (t: Received): { auth: string; dh: string } => {
  if (t.command.tag !== "NEW") throw new Error("not NEW");
  return { auth: hx(t.command.rcvAuthKey), dh: hx(t.command.rcvDhKey) };
};

const contains = (hay: Uint8Array, needle: Uint8Array): boolean => hx(hay).includes(hx(needle));

// ---- tests ----

describe("the derived ids (WIRE.md 6.2, 6.13)", () => {
  it("clientSenderId is the first 24 bytes of SHA3-384(corrId)", () => {
    for (let i = 0; i < 20; i++) {
      const corrId = randomBytes(24);
      expect(hx(clientSenderId(corrId))).toBe(hx(nodeSenderId(corrId)));
    }
  });

  it("contactLinkId is the first 24 bytes of HKDF-SHA512(empty salt, linkKey, SimpleXContactLink, 56)", () => {
    for (let i = 0; i < 20; i++) {
      const key = randomBytes(32);
      expect(hx(contactLinkId(key))).toBe(hx(nodeContactLinkId(key)));
    }
    // One fixed value, so a change of both sides together would still show.
    expect(hx(contactLinkId(new Uint8Array(32)))).toBe(hx(nodeContactLinkId(new Uint8Array(32))));
    expect(() => contactLinkId(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe("SMPClient.request with a chosen corrId", () => {
  it("puts that corrId on the wire; without one, 24 fresh random bytes each time", async () => {
    const relay = await FakeRelay.connect();
    const corrId = randomBytes(24);
    const { t, result } = await exchange(relay, () => relay.client.request(new Uint8Array(0), { tag: "PING" }, undefined, { corrId }), () => ({ tag: "PONG" }));
    expect(hx(t.corrId)).toBe(hx(corrId));
    expect(hx(t.raw)).toBe("00" + "18" + hx(corrId) + "00" + hx(ascii("PING")));
    expect(await result).toEqual({ tag: "PONG" });
    const a = await exchange(relay, () => relay.client.command(new Uint8Array(0), { tag: "PING" }), () => ({ tag: "PONG" }));
    const b = await exchange(relay, () => relay.client.command(new Uint8Array(0), { tag: "PING" }), () => ({ tag: "PONG" }));
    expect(a.t.corrId.length).toBe(24);
    expect(hx(a.t.corrId)).not.toBe(hx(b.t.corrId));
  });

  it("a corrId that is not 24 bytes is a RangeError, and nothing is sent", async () => {
    const relay = await FakeRelay.connect();
    for (const n of [0, 23, 25]) {
      await expect(relay.client.request(new Uint8Array(0), { tag: "PING" }, undefined, { corrId: new Uint8Array(n) })).rejects.toThrow(RangeError);
      await expect(relay.client.command(new Uint8Array(0), { tag: "PING" }, undefined, { corrId: new Uint8Array(n) })).rejects.toThrow(RangeError);
    }
    await new Promise((r) => setTimeout(r, 5));
    expect(relay.blocks).toHaveLength(0);
  });
});

describe("createContactAddress: NEW with contact link data (WIRE.md 6.2, 6.13a)", () => {
  const v = vec("NEW_C_link");
  const fixedData = h(field(v, "fixedData_hex"));
  const userData = h(field(v, "userData_hex"));

  it("sends the NEW_C_link vector's bytes with our keys, link id and sndId = SHA3-384(corrId)[0..24]", async () => {
    const relay = await FakeRelay.connect();
    const linkKey = randomBytes(32);
    const { t, result } = await exchange(relay, () => createContactAddress(relay.client, { fixedData, userData, linkKey }), (t) => ids(t));
    const q = await result;
    const keys = rcvKeysOf(t);
    const sndId = nodeSenderId(t.corrId);
    const linkId = nodeContactLinkId(linkKey);
    expect(hx(t.commandBytes)).toBe(
      withFields(v, { rcvAuthKey_hex: keys.auth, rcvDhKey_hex: keys.dh, linkId_hex: hx(linkId), sndId_hex: hx(sndId) }),
    );
    expect(hx(t.commandBytes.subarray(94, 99))).toBe(hx(ascii("0S1C1"))); // no basic auth, subscribe, Just C, Just link
    expect(t.corrId.length).toBe(24);
    expect(t.entityId.length).toBe(0);
    // Signed with the queue's new recipient key, against this connection's session key.
    expect(keys.auth).toBe(der(q.rcvAuthKey));
    expect(keys.dh).toBe(der(q.rcvDhKey));
    expect(await verifies(relay, t, q.rcvAuthKey.publicKey)).toBe(true);

    expect(q.mode).toBe("C");
    expect(hx(q.linkKey)).toBe(hx(linkKey));
    expect(hx(q.linkId)).toBe(hx(linkId));
    expect(hx(q.sndId)).toBe(hx(sndId));
    expect(hx(q.fixedData)).toBe(hx(fixedData));
    expect(hx(q.dhSecret)).toBe(hx(await x25519(srvDh.privateKey, q.rcvDhKey.publicKey)));
  });

  it("without a linkKey: 32 fresh random bytes, the link id derived from them; subscribe false and basic auth", async () => {
    const relay = await FakeRelay.connect();
    const { t, result } = await exchange(
      relay,
      () => createContactAddress(relay.client, { fixedData, userData, subscribe: false, basicAuth: "pw" }),
      (t) => ids(t),
    );
    const q = await result;
    expect(q.linkKey.length).toBe(32);
    expect(hx(q.linkId)).toBe(hx(nodeContactLinkId(q.linkKey)));
    // "0" "S" became "1" BS("pw") "C".
    expect(hx(t.commandBytes.subarray(94, 102))).toBe(hx(ascii("1\x02pwC1C1")));
    const other = await exchange(relay, () => createContactAddress(relay.client, { fixedData, userData }), (t) => ids(t));
    expect(hx((await other.result).linkKey)).not.toBe(hx(q.linkKey));
  });

  it("an IDS that does not echo the sndId, the link id or mode C is an UnexpectedReplyError", async () => {
    const relay = await FakeRelay.connect();
    const bad: [string, (t: Received) => ServerResponse][] = [
      ["sndId", (t) => ids(t, { sndId: randomBytes(24) })],
      ["link id", (t) => ids(t, { linkId: randomBytes(24) })],
      ["link id", (t) => ids(t, { linkId: null })],
      ["queue mode M", (t) => ids(t, { queueMode: "M" })],
      ["queue mode none", (t) => ids(t, { queueMode: null })],
    ];
    for (const [what, reply] of bad) {
      const { result } = await exchange(relay, () => createContactAddress(relay.client, { fixedData, userData }), reply);
      await expect(result).rejects.toThrow(UnexpectedReplyError);
      await expect(result).rejects.toThrow(what);
    }
  });

  it("ERR rejects with SMPProtocolError; another reply with UnexpectedReplyError", async () => {
    const relay = await FakeRelay.connect();
    const err = await exchange(relay, () => createContactAddress(relay.client, { fixedData, userData }), () => ({ tag: "ERR", code: "AUTH" }));
    await expect(err.result).rejects.toThrow(SMPProtocolError);
    await expect(err.result).rejects.toMatchObject({ code: "AUTH" });
    const ok = await exchange(relay, () => createContactAddress(relay.client, { fixedData, userData }), () => ({ tag: "OK" }));
    await expect(ok.result).rejects.toThrow(UnexpectedReplyError);
    await expect(ok.result).rejects.toThrow("unexpected reply to NEW: OK");
  });

  it("a link key that is not 32 bytes is a RangeError before anything is sent", async () => {
    const relay = await FakeRelay.connect();
    await expect(createContactAddress(relay.client, { fixedData, userData, linkKey: new Uint8Array(16) })).rejects.toThrow(RangeError);
    await expect(createInvitation(relay.client, { fixedData, userData, linkKey: new Uint8Array(33) })).rejects.toThrow(RangeError);
    await new Promise((r) => setTimeout(r, 5));
    expect(relay.blocks).toHaveLength(0);
  });
});

describe("createInvitation: NEW with invitation link data (WIRE.md 6.2, 6.13a)", () => {
  const v = vec("NEW_M_link");
  const fixedData = h(field(v, "fixedData_hex"));
  const userData = h(field(v, "userData_hex"));

  it("sends the NEW_M_link vector's bytes with our keys and sndId; the relay's link id comes back; the link key stays here", async () => {
    const relay = await FakeRelay.connect();
    const relayLinkId = randomBytes(24);
    const { t, result } = await exchange(relay, () => createInvitation(relay.client, { fixedData, userData }), (t) => ids(t, { linkId: relayLinkId }));
    const q = await result;
    const keys = rcvKeysOf(t);
    const sndId = nodeSenderId(t.corrId);
    expect(hx(t.commandBytes)).toBe(withFields(v, { rcvAuthKey_hex: keys.auth, rcvDhKey_hex: keys.dh, sndId_hex: hx(sndId) }));
    expect(hx(t.commandBytes.subarray(94, 99))).toBe(hx(ascii("0S1M1"))); // no link id field in mode M
    expect(await verifies(relay, t, q.rcvAuthKey.publicKey)).toBe(true);
    expect(q.mode).toBe("M");
    expect(hx(q.sndId)).toBe(hx(sndId));
    expect(hx(q.linkId)).toBe(hx(relayLinkId));
    expect(q.linkKey.length).toBe(32);
    expect(contains(t.raw, q.linkKey)).toBe(false);
  });

  it("a caller's link key is kept as given", async () => {
    const relay = await FakeRelay.connect();
    const linkKey = randomBytes(32);
    const { t, result } = await exchange(relay, () => createInvitation(relay.client, { fixedData, userData, linkKey }), (t) => ids(t));
    expect(hx((await result).linkKey)).toBe(hx(linkKey));
    expect(contains(t.raw, linkKey)).toBe(false);
  });

  it("an IDS without a 24-byte link id, with another sndId or mode is an UnexpectedReplyError; ERR is SMPProtocolError", async () => {
    const relay = await FakeRelay.connect();
    const bad: [string, (t: Received) => ServerResponse][] = [
      ["link id", (t) => ids(t, { linkId: null })],
      ["link id", (t) => ids(t, { linkId: randomBytes(16) })],
      ["sndId", (t) => ids(t, { sndId: randomBytes(24) })],
      ["queue mode C", (t) => ids(t, { queueMode: "C" })],
    ];
    for (const [what, reply] of bad) {
      const { result } = await exchange(relay, () => createInvitation(relay.client, { fixedData, userData }), reply);
      await expect(result).rejects.toThrow(UnexpectedReplyError);
      await expect(result).rejects.toThrow(what);
    }
    const err = await exchange(relay, () => createInvitation(relay.client, { fixedData, userData }), () => ({ tag: "ERR", code: "CMD PROHIBITED" }));
    await expect(err.result).rejects.toMatchObject({ name: "SMPProtocolError", code: "CMD PROHIBITED" });
  });
});

describe("getLinkData: LGET → LNK (WIRE.md 6.13)", () => {
  const lnk = vec("LNK");
  const lnkReply: ServerResponse = { tag: "LNK", sndId: h(field(lnk, "sndId_hex")), fixedData: h(field(lnk, "fixedData_hex")), userData: h(field(lnk, "userData_hex")) };

  it("sends an unauthorized LGET with the link id as entity, and decodes LNK", async () => {
    const relay = await FakeRelay.connect();
    const linkId = nodeContactLinkId(randomBytes(32));
    const { t, result } = await exchange(relay, () => getLinkData(relay.client, linkId), () => lnkReply);
    // authorization 00 (no service-signature byte) ‖ BS(corrId) ‖ BS(linkId) ‖ "LGET"
    expect(hx(t.raw)).toBe("00" + "18" + hx(t.corrId) + "18" + hx(linkId) + hx(ascii("LGET")));
    const data: LinkData = await result;
    expect(data).toEqual({ senderId: lnkReply.sndId, fixedData: lnkReply.fixedData, userData: lnkReply.userData });
  });

  it("ERR AUTH is an SMPProtocolError, another reply an UnexpectedReplyError, an empty id a RangeError", async () => {
    const relay = await FakeRelay.connect();
    const linkId = randomBytes(24);
    const err = await exchange(relay, () => getLinkData(relay.client, linkId), () => ({ tag: "ERR", code: "AUTH" }));
    await expect(err.result).rejects.toMatchObject({ name: "SMPProtocolError", code: "AUTH" });
    const ok = await exchange(relay, () => getLinkData(relay.client, linkId), () => ({ tag: "OK" }));
    await expect(ok.result).rejects.toThrow("unexpected reply to LGET: OK");
    await expect(getLinkData(relay.client, new Uint8Array(0))).rejects.toThrow(RangeError);
  });
});

describe("secureInvitationLink: LKEY → LNK (WIRE.md 6.13a)", () => {
  it("sends the LKEY vector's bytes for its key, authorized with that key; decodes LNK", async () => {
    const relay = await FakeRelay.connect();
    const v = vec("LKEY");
    const senderKey: X25519KeyPair = { publicKey: h(field(v, "senderKey_hex").slice(X25519_DER_PREFIX.length)), privateKey: randomBytes(32) };
    const linkId = randomBytes(24);
    const reply: ServerResponse = { tag: "LNK", sndId: randomBytes(24), fixedData: ascii("f"), userData: ascii("u") };
    const { t, result } = await exchange(relay, () => secureInvitationLink(relay.client, linkId, senderKey), () => reply);
    expect(hx(t.commandBytes)).toBe(v.hex);
    expect(hx(t.entityId)).toBe(hx(linkId));
    expect(t.authorization.length).toBe(80);
    expect(await result).toEqual({ senderId: reply.sndId, fixedData: reply.fixedData, userData: reply.userData });
  });

  it("the authorization verifies against the key it carries", async () => {
    const relay = await FakeRelay.connect();
    const senderKey = await generateX25519();
    const { t, result } = await exchange(relay, () => secureInvitationLink(relay.client, randomBytes(24), senderKey), () => ({
      tag: "LNK",
      sndId: randomBytes(24),
      fixedData: new Uint8Array(0),
      userData: new Uint8Array(0),
    }));
    await result;
    expect(hx(t.commandBytes)).toBe(hx(ascii("LKEY ")) + "2c" + der(senderKey));
    expect(await verifies(relay, t, senderKey.publicKey)).toBe(true);
    expect(await verifies(relay, t, (await generateX25519()).publicKey)).toBe(false);
  });

  it("ERR AUTH is an SMPProtocolError; OK is an UnexpectedReplyError", async () => {
    const relay = await FakeRelay.connect();
    const key = await generateX25519();
    const err = await exchange(relay, () => secureInvitationLink(relay.client, randomBytes(24), key), () => ({ tag: "ERR", code: "AUTH" }));
    await expect(err.result).rejects.toMatchObject({ name: "SMPProtocolError", code: "AUTH" });
    const ok = await exchange(relay, () => secureInvitationLink(relay.client, randomBytes(24), key), () => ({ tag: "OK" }));
    await expect(ok.result).rejects.toThrow("unexpected reply to LKEY: OK");
  });
});

/** A queue as the recipient holds it, made here without a NEW. */
async function queue(over: Partial<RecipientQueue & { fixedData: Uint8Array }> = {}): Promise<RecipientQueue & { fixedData?: Uint8Array }> {
  const [rcvAuthKey, rcvDhKey] = await Promise.all([generateX25519(), generateX25519()]);
  return { rcvId: randomBytes(24), sndId: randomBytes(24), mode: "C", rcvAuthKey, rcvDhKey, srvDhKey: h(der(srvDh)), dhSecret: randomBytes(32), ...over };
}

describe("setLinkData: LSET (WIRE.md 6.13a)", () => {
  const v = vec("LSET");
  const linkId = h(field(v, "linkId_hex"));
  const fixedData = h(field(v, "fixedData_hex"));
  const userData = h(field(v, "userData_hex"));

  it("sends the LSET vector's bytes (fixed data kept on the queue), entity rcvId, authorized with the recipient key", async () => {
    const relay = await FakeRelay.connect();
    const q = await queue({ linkId, fixedData });
    const { t, result } = await exchange(relay, () => setLinkData(relay.client, q, { userData }), () => ({ tag: "OK" }));
    await result;
    expect(hx(t.commandBytes)).toBe(v.hex);
    expect(hx(t.entityId)).toBe(hx(q.rcvId));
    expect(await verifies(relay, t, q.rcvAuthKey.publicKey)).toBe(true);
  });

  it("fixed data given to the call wins; empty user data is LG 0000 (LSET_empty_user)", async () => {
    const relay = await FakeRelay.connect();
    const q = await queue({ linkId, fixedData: ascii("something else") });
    const { t, result } = await exchange(relay, () => setLinkData(relay.client, q, { fixedData, userData: new Uint8Array(0) }), () => ({ tag: "OK" }));
    await result;
    expect(hx(t.commandBytes)).toBe(vec("LSET_empty_user").hex);
  });

  it("no linkId or no fixed data throws before sending; ERR and other replies throw", async () => {
    const relay = await FakeRelay.connect();
    await expect(setLinkData(relay.client, await queue({ fixedData }), { userData })).rejects.toThrow("no linkId");
    await expect(setLinkData(relay.client, await queue({ linkId }), { userData })).rejects.toThrow(TypeError);
    await new Promise((r) => setTimeout(r, 5));
    expect(relay.blocks).toHaveLength(0);
    const q = await queue({ linkId, fixedData });
    const err = await exchange(relay, () => setLinkData(relay.client, q, { userData }), () => ({ tag: "ERR", code: "AUTH" }));
    await expect(err.result).rejects.toMatchObject({ name: "SMPProtocolError", code: "AUTH" });
    const pong = await exchange(relay, () => setLinkData(relay.client, q, { userData }), () => ({ tag: "PONG" }));
    await expect(pong.result).rejects.toThrow("unexpected reply to LSET: PONG");
  });
});

describe("deleteLinkData: LDEL (WIRE.md 6.13a)", () => {
  it('sends "LDEL" for the rcvId, authorized; OK resolves and the linkId is kept', async () => {
    const relay = await FakeRelay.connect();
    const q = await queue({ linkId: randomBytes(24) });
    const { t, result } = await exchange(relay, () => deleteLinkData(relay.client, q), () => ({ tag: "OK" }));
    await result;
    expect(hx(t.commandBytes)).toBe(vec("LDEL").hex);
    expect(hx(t.entityId)).toBe(hx(q.rcvId));
    expect(await verifies(relay, t, q.rcvAuthKey.publicKey)).toBe(true);
    expect(q.linkId).toBeDefined();
    const err = await exchange(relay, () => deleteLinkData(relay.client, q), () => ({ tag: "ERR", code: "AUTH" }));
    await expect(err.result).rejects.toThrow(SMPProtocolError);
  });
});

describe("setRecipientKeys: RKEY (WIRE.md 6.13a)", () => {
  it("sends the RKEY_one vector's bytes for its key", async () => {
    const relay = await FakeRelay.connect();
    const v = vec("RKEY_one");
    const keyDer = (v.value.recipientKeys_hex as string[])[0]!;
    const key: X25519KeyPair = { publicKey: h(keyDer.slice(X25519_DER_PREFIX.length)), privateKey: randomBytes(32) };
    const q = await queue();
    const { t, result } = await exchange(relay, () => setRecipientKeys(relay.client, q, [key]), () => ({ tag: "OK" }));
    await result;
    expect(hx(t.commandBytes)).toBe(v.hex);
  });

  it("signs RKEY with the old key, then every later recipient command with the first new key", async () => {
    const relay = await FakeRelay.connect();
    const q = await queue();
    const old = q.rcvAuthKey;
    const [k1, k2] = await Promise.all([generateX25519(), generateX25519()]);
    const { t, result } = await exchange(relay, () => setRecipientKeys(relay.client, q, [k1, k2]), () => ({ tag: "OK" }));
    await result;
    // "RKEY " ‖ count 2 ‖ BS(DER k1) ‖ BS(DER k2)
    expect(hx(t.commandBytes)).toBe(hx(ascii("RKEY ")) + "02" + "2c" + der(k1) + "2c" + der(k2));
    expect(await verifies(relay, t, old.publicKey)).toBe(true);
    expect(q.rcvAuthKey).toBe(k1);
    const del = await exchange(relay, () => deleteQueue(relay.client, q), () => ({ tag: "OK" }));
    await del.result;
    expect(await verifies(relay, del.t, k1.publicKey)).toBe(true);
    expect(await verifies(relay, del.t, old.publicKey)).toBe(false);
  });

  it("ERR leaves the key as it was; 0 or 256 keys are a RangeError before anything is sent", async () => {
    const relay = await FakeRelay.connect();
    const q = await queue({ mode: "M" });
    const old = q.rcvAuthKey;
    const k = await generateX25519();
    const err = await exchange(relay, () => setRecipientKeys(relay.client, q, [k]), () => ({ tag: "ERR", code: "AUTH" }));
    await expect(err.result).rejects.toMatchObject({ name: "SMPProtocolError", code: "AUTH" });
    expect(q.rcvAuthKey).toBe(old);
    const sent = relay.blocks.length;
    await expect(setRecipientKeys(relay.client, q, [])).rejects.toThrow(RangeError);
    await expect(setRecipientKeys(relay.client, q, Array.from({ length: 256 }, () => k))).rejects.toThrow(RangeError);
    await new Promise((r) => setTimeout(r, 5));
    expect(relay.blocks.length).toBe(sent);
    expect(q.rcvAuthKey).toBe(old);
  });
});

describe("shortLinkFor", () => {
  const keyHash = randomBytes(32);
  const kh = base64url.encode(keyHash);

  it("a contact address's link: https, the relay's host, port and keyHash; its key gives back the link id", async () => {
    const linkKey = randomBytes(32);
    const link = shortLinkFor({ keyHash, host: "relay.example.com:8443" }, { mode: "C", linkKey });
    expect(link).toBe(`https://relay.example.com/a#${base64url.encode(linkKey)}?p=8443&c=${kh}`);
    const parsed = parseShortLink(link);
    if (parsed.mode !== "contact") throw new Error("not a contact link");
    expect(hx(nodeContactLinkId(parsed.linkKey))).toBe(hx(contactLinkId(linkKey)));
  });

  it("an invitation's link carries its id and key; scheme and type options; a ShortLinkServer works too", () => {
    const linkId = randomBytes(24);
    const linkKey = randomBytes(32);
    expect(shortLinkFor({ keyHash, host: "relay.example.com" }, { mode: "M", linkId, linkKey })).toBe(
      `https://relay.example.com/i#${base64url.encode(linkId)}/${base64url.encode(linkKey)}?c=${kh}`,
    );
    expect(shortLinkFor({ hosts: ["a.example", "b.example"], port: "", keyHash }, { mode: "C", linkKey }, { scheme: "simplex", type: "group" })).toBe(
      `simplex:/g#${base64url.encode(linkKey)}?h=a.example%2Cb.example&c=${kh}`,
    );
  });

  it("works on what createContactAddress returns", async () => {
    const relay = await FakeRelay.connect();
    const { result } = await exchange(relay, () => createContactAddress(relay.client, { fixedData: ascii("f"), userData: ascii("u") }), (t) => ids(t));
    const address = await result;
    const parsed = parseShortLink(shortLinkFor({ keyHash, host: "127.0.0.1:8787" }, address));
    expect(parsed).toMatchObject({ mode: "contact", server: { hosts: ["127.0.0.1"], port: "8787" } });
    expect(hx(contactLinkId(parsed.linkKey))).toBe(hx(address.linkId));
  });

  it("a key of the wrong length is a ShortLinkError", () => {
    expect(() => shortLinkFor({ keyHash, host: "relay.example.com" }, { mode: "C", linkKey: randomBytes(31) })).toThrow(ShortLinkError);
    expect(() => shortLinkFor({ keyHash, host: "relay.example.com" }, { mode: "M", linkId: randomBytes(23), linkKey: randomBytes(32) })).toThrow(ShortLinkError);
  });
});
