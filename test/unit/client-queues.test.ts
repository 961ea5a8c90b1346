// The client's queue API (src/client/queues.ts) without a relay: message decryption against the
// msg_body_encryption vector (bodies sealed with libsodium, not with our cryptoBox), the NEW that
// createQueue sends compared with smp-web's client_NEW bytes, INFO parsing, and the delivery stream
// driven by a stand-in client.
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import sodium from "libsodium-wrappers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandAuth, Push, SMPClient } from "../../src/client/client.js";
import {
  createQueue,
  decryptMessage,
  deliveries,
  messages,
  MessageDecryptionError,
  parseQueueInfo,
  register,
  type ReceivedMessage,
  type RecipientQueue,
} from "../../src/client/queues.js";
import { ConnectionClosedError } from "../../src/client/errors.js";
import { decodeResponse, encodeCommand, type ClientCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { ascii, h, hx, sha256hex, vectorsFor, X25519_DER_PREFIX } from "./vectors.js";

const V = vectorsFor("client-queues.test.ts");
afterAll(() => V.assertAllUsed());

beforeAll(async () => {
  await sodium.ready;
});

const mb = V.get("msg_body_encryption", "msg_body");
const newVector = V.get("client_NEW", "client_transmission");
const newBasicAuthVector = V.get("client_NEW_onlycreate_basicauth", "client_transmission");
const idsVector = V.get("server_IDS", "server_response");
const infoVector = V.get("server_INFO", "server_response");

/** pad(m, 16106), written out here (WIRE.md 2.2) rather than taken from src. */
function pad16106(m: Uint8Array): Uint8Array {
  const out = new Uint8Array(16106).fill(0x23);
  out[0] = m.length >> 8;
  out[1] = m.length & 0xff;
  out.set(m, 2);
  return out;
}

/** libsodium's crypto_box_beforenm for the vector's key pair: HSalsa20 of the queue's DH secret. */
function sodiumBoxKey(): Uint8Array {
  const srvRaw = h(mb.inputs.server_queue_dh_pub_der_hex.slice(X25519_DER_PREFIX.length));
  return sodium.crypto_box_beforenm(srvRaw, h(mb.inputs.rcv_dh_priv_hex));
}

/** crypto_box_easy_afternm(pad(inner), msgId) with libsodium, for the vector's queue. */
function sealWithSodium(msgId: Uint8Array, inner: Uint8Array): Uint8Array {
  return sodium.crypto_box_easy_afternm(pad16106(inner), msgId, sodiumBoxKey());
}

const queueOf = (secretHex: string): Pick<RecipientQueue, "dhSecret"> => ({ dhSecret: h(secretHex) });

describe("decryptMessage (WIRE.md 7)", () => {
  const i = mb.inputs;
  const o = mb.outputs;
  const msgId = h(i.msg_id_hex);

  it("the vector's secret is X25519(rcvDhPriv, raw srvDhKey), as createQueue computes it", () => {
    const raw = h(i.server_queue_dh_pub_der_hex.slice(X25519_DER_PREFIX.length));
    expect(hx(nobleX25519.getSharedSecret(h(i.rcv_dh_priv_hex), raw))).toBe(o.rcv_dh_secret_hex);
  });

  it("opens the vector's message: timestamp, notify flag and body", () => {
    const enc = sealWithSodium(msgId, h(o.inner_plaintext_hex));
    expect(enc.length).toBe(o.encrypted_body_length);
    expect(sha256hex(enc)).toBe(o.encrypted_body_sha256);
    const m = decryptMessage(queueOf(o.rcv_dh_secret_hex), msgId, enc);
    expect(m).toEqual({ msgId, timestamp: Number(i.timestamp_seconds), notify: i.notification_flag === "T", body: h(i.body_hex) });
    expect(typeof m.timestamp).toBe("number");
  });

  it("the F flag gives notify: false", () => {
    const inner = h(o.inner_plaintext_hex);
    inner[8] = 0x46; // "F"
    const m = decryptMessage(queueOf(o.rcv_dh_secret_hex), msgId, sealWithSodium(msgId, inner));
    expect(m.quota).toBeFalsy();
    expect(m).toMatchObject({ notify: false, body: h(i.body_hex) });
  });

  it("an empty body decrypts to an empty body", () => {
    const inner = h(o.inner_plaintext_hex).slice(0, 10);
    const m = decryptMessage(queueOf(o.rcv_dh_secret_hex), msgId, sealWithSodium(msgId, inner));
    expect(m).toMatchObject({ notify: true, body: new Uint8Array(0) });
  });

  it("opens the quota marker variant: { quota: true, timestamp }", () => {
    const enc = sealWithSodium(msgId, h(o.quota_inner_plaintext_hex));
    expect(sha256hex(enc)).toBe(o.quota_encrypted_sha256);
    expect(decryptMessage(queueOf(o.rcv_dh_secret_hex), msgId, enc)).toEqual({ msgId, timestamp: Number(i.timestamp_seconds), quota: true });
  });

  it("throws MessageDecryptionError for a body that does not open", () => {
    const enc = sealWithSodium(msgId, h(o.inner_plaintext_hex));
    const q = queueOf(o.rcv_dh_secret_hex);
    const tampered = enc.slice();
    tampered[100] = (tampered[100] as number) ^ 1;
    const otherId = msgId.slice();
    otherId[0] = (otherId[0] as number) ^ 1;
    const cases: [Pick<RecipientQueue, "dhSecret">, Uint8Array, Uint8Array][] = [
      [q, msgId, tampered],
      [q, otherId, enc],
      [queueOf("00".repeat(31) + "01"), msgId, enc],
      [q, msgId, enc.subarray(0, 15)],
      [q, msgId, new Uint8Array(0)],
    ];
    for (const [queue, id, body] of cases) {
      expect(() => decryptMessage(queue, id, body)).toThrow(MessageDecryptionError);
      expect(() => decryptMessage(queue, id, body)).toThrow(/does not open/);
    }
  });

  it("throws MessageDecryptionError for a body that opens but does not parse", () => {
    const s = h(o.rcv_dh_secret_hex);
    const bad = [
      h(o.inner_plaintext_hex).slice(0, 9), // no space
      ascii("short"),
      (() => {
        const x = h(o.inner_plaintext_hex);
        x[8] = 0x58; // flag "X"
        return x;
      })(),
    ];
    for (const inner of bad) {
      expect(() => decryptMessage({ dhSecret: s }, msgId, sealWithSodium(msgId, inner))).toThrow(MessageDecryptionError);
    }
    // A length prefix larger than the padded block.
    const over = sodium.crypto_box_easy_afternm(
      Uint8Array.from([0xff, 0xff, ...new Uint8Array(100)]),
      msgId,
      sodiumBoxKey(),
    );
    expect(() => decryptMessage({ dhSecret: s }, msgId, over)).toThrow(/does not parse/);
  });
});

// ---- A stand-in for SMPClient: records commands, answers from a script, emits pushes ----

interface Sent {
  entityId: Uint8Array;
  cmd: ClientCommand;
  auth: CommandAuth | undefined;
}

class FakeClient {
  sent: Sent[] = [];
  private listeners = new Set<(p: Push) => void>();
  private closeResolve!: (e: ConnectionClosedError) => void;
  readonly closed = new Promise<ConnectionClosedError>((r) => (this.closeResolve = r));
  constructor(private readonly reply: (cmd: ClientCommand) => ServerResponse) {}
  async command(entityId: Uint8Array, cmd: ClientCommand, auth?: CommandAuth): Promise<ServerResponse> {
    this.sent.push({ entityId, cmd, auth });
    return this.reply(cmd);
  }
  onPush(l: (p: Push) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  push(entityId: Uint8Array, response: ServerResponse): void {
    for (const l of this.listeners) l({ entityId, response });
  }
  close(): void {
    this.closeResolve(new ConnectionClosedError(1000, "test"));
  }
  get asClient(): SMPClient {
    return this as unknown as SMPClient;
  }
}

const idsReply = (): ServerResponse => decodeResponse(h(idsVector.outputs.command_hex));

describe("createQueue sends smp-web's NEW", () => {
  /** The vector's command with its two keys replaced by ours: everything else must be identical. */
  function withKeys(vectorCommandHex: string, authDer: Uint8Array, dhDer: Uint8Array): string {
    const v = vectorCommandHex;
    // "NEW " (4) ‖ 2c ‖ DER(44) ‖ 2c ‖ DER(44) ‖ rest
    expect(v.slice(0, 10)).toBe(hx(ascii("NEW ")) + "2c");
    expect(v.slice(98, 100)).toBe("2c");
    return v.slice(0, 10) + hx(authDer) + "2c" + hx(dhDer) + v.slice(188);
  }

  it('"NEW " ‖ 2c‖DER ‖ 2c‖DER ‖ "0" ‖ "S" ‖ "1M0" ‖ "0" (100 bytes), empty entity, signed with the rcv auth key', async () => {
    const fake = new FakeClient(idsReply);
    const q = await createQueue(fake.asClient);
    expect(fake.sent).toHaveLength(1);
    const { entityId, cmd, auth } = fake.sent[0]!;
    expect(entityId.length).toBe(0);
    if (cmd.tag !== "NEW") throw new Error("not NEW");
    const bytes = encodeCommand(cmd);
    expect(bytes.length).toBe(100);
    expect(h(newVector.outputs.command_hex).length).toBe(100);
    const authDer = h(X25519_DER_PREFIX + hx(q.rcvAuthKey.publicKey));
    const dhDer = h(X25519_DER_PREFIX + hx(q.rcvDhKey.publicKey));
    expect(hx(bytes)).toBe(withKeys(newVector.outputs.command_hex, authDer, dhDer));
    expect(hx(bytes.subarray(94))).toBe(hx(ascii("0S1M00")));
    expect(auth && hx(auth.x25519PrivateKey)).toBe(hx(q.rcvAuthKey.privateKey));
    // Fresh keys: the public halves belong to the private ones, and the two pairs differ.
    expect(hx(nobleX25519.getPublicKey(q.rcvAuthKey.privateKey))).toBe(hx(q.rcvAuthKey.publicKey));
    expect(hx(nobleX25519.getPublicKey(q.rcvDhKey.privateKey))).toBe(hx(q.rcvDhKey.publicKey));
    expect(hx(q.rcvAuthKey.privateKey)).not.toBe(hx(q.rcvDhKey.privateKey));
  });

  it("keeps the ids and server key from IDS and derives the per-queue secret", async () => {
    const fake = new FakeClient(idsReply);
    const q = await createQueue(fake.asClient);
    const ids = idsReply();
    if (ids.tag !== "IDS") throw new Error("not IDS");
    expect(q.rcvId).toEqual(ids.rcvId);
    expect(q.sndId).toEqual(ids.sndId);
    expect(q.srvDhKey).toEqual(ids.srvDhKey);
    expect(q.mode).toBe("M");
    const srvRaw = ids.srvDhKey.subarray(12);
    expect(hx(q.dhSecret)).toBe(hx(nobleX25519.getSharedSecret(q.rcvDhKey.privateKey, srvRaw)));
  });

  it('subscribe: false, basicAuth and mode "C" follow client_NEW_onlycreate_basicauth (with mode C)', async () => {
    const fake = new FakeClient(idsReply);
    const q = await createQueue(fake.asClient, { subscribe: false, basicAuth: "secret" });
    const cmd = fake.sent[0]!.cmd;
    if (cmd.tag !== "NEW") throw new Error("not NEW");
    const authDer = h(X25519_DER_PREFIX + hx(q.rcvAuthKey.publicKey));
    const dhDer = h(X25519_DER_PREFIX + hx(q.rcvDhKey.publicKey));
    expect(hx(encodeCommand(cmd))).toBe(withKeys(newBasicAuthVector.outputs.command_hex, authDer, dhDer));

    const contact = new FakeClient(idsReply);
    await createQueue(contact.asClient, { mode: "C" });
    const c = contact.sent[0]!.cmd;
    if (c.tag !== "NEW") throw new Error("not NEW");
    expect(hx(encodeCommand(c).subarray(94))).toBe(hx(ascii("0S1C00")));
  });

  it("rejects an IDS whose srvDhKey is not DER X25519, and a reply that is not IDS", async () => {
    const badKey = new FakeClient(() => {
      const r = idsReply();
      if (r.tag === "IDS") r.srvDhKey = h("302a300506032b6570032100" + "11".repeat(32));
      return r;
    });
    await expect(createQueue(badKey.asClient)).rejects.toThrow(/srvDhKey/);
    await expect(createQueue(new FakeClient(() => ({ tag: "OK" })).asClient)).rejects.toThrow(/unexpected reply to NEW: OK/);
  });
});

describe("parseQueueInfo", () => {
  it("parses the server_INFO vector's JSON", () => {
    const cmd = decodeResponse(h(infoVector.outputs.command_hex));
    if (cmd.tag !== "INFO") throw new Error("not INFO");
    const info = parseQueueInfo(cmd.json);
    expect(info.qiSnd).toBe(true);
    expect(info.qiNtf).toBe(false);
    expect(info.qiSize).toBe(1);
    expect(info.qiSub?.qSubThread).toBe("noSub");
    expect(info.qiMsg?.msgType).toBe("message");
    expect(Buffer.from(info.qiMsg!.msgId, "base64").length).toBe(24);
  });

  it("refuses JSON of another shape", () => {
    for (const j of ["[]", '{"qiSnd":1,"qiNtf":false,"qiSize":0}', '{"qiSnd":true,"qiNtf":false}', '{"qiSnd":true,"qiNtf":false,"qiSize":0,"qiMsg":{}}']) {
      expect(() => parseQueueInfo(j)).toThrow(/INFO/);
    }
  });
});

describe("deliveries and messages", () => {
  const s = mb.outputs.rcv_dh_secret_hex;
  const queue = (rcvId: Uint8Array): RecipientQueue => ({
    rcvId,
    sndId: new Uint8Array(24),
    mode: "M",
    rcvAuthKey: { publicKey: new Uint8Array(32), privateKey: new Uint8Array(32) },
    rcvDhKey: { publicKey: new Uint8Array(32), privateKey: new Uint8Array(32) },
    srvDhKey: h(mb.inputs.server_queue_dh_pub_der_hex),
    dhSecret: h(s),
  });
  const msgPush = (n: number): ServerResponse => {
    const msgId = new Uint8Array(24).fill(n);
    const inner = Uint8Array.from([...h(mb.outputs.inner_plaintext_hex).subarray(0, 10), n]);
    return { tag: "MSG", msgId, body: sealWithSodium(msgId, inner) };
  };
  const bodyOf = (m: ReceivedMessage): number => (m.quota ? -1 : (m.body[0] as number));

  it("buffers from creation, across separate loops, and ends with the connection", async () => {
    const fake = new FakeClient(() => ({ tag: "OK" }));
    const q1 = queue(new Uint8Array(24).fill(1));
    const q2 = queue(new Uint8Array(24).fill(2));
    register(fake.asClient, q1);
    register(fake.asClient, q2);
    const stream = deliveries(fake.asClient);
    fake.push(q1.rcvId, msgPush(1));
    fake.push(q2.rcvId, msgPush(2));
    fake.push(q1.rcvId, { tag: "PONG" }); // not a delivery
    fake.push(q1.rcvId, { tag: "END" });
    expect(stream.pending).toBe(3);
    const seen: string[] = [];
    for await (const d of stream) {
      seen.push(d.type === "MSG" ? `MSG ${d.rcvId[0]} ${bodyOf(d.message)}` : `${d.type} ${d.rcvId[0]}`);
      if (seen.length === 2) break;
    }
    fake.push(q2.rcvId, { tag: "DELD" });
    const later = setTimeout(() => {
      fake.push(q2.rcvId, msgPush(7));
      fake.close();
    }, 10);
    for await (const d of stream) seen.push(d.type === "MSG" ? `MSG ${d.rcvId[0]} ${bodyOf(d.message)}` : `${d.type} ${d.rcvId[0]}`);
    clearTimeout(later);
    expect(seen).toEqual(["MSG 1 1", "MSG 2 2", "END 1", "DELD 2", "MSG 2 7"]);
    expect(await stream.read()).toBeNull();
  });

  it("reports MSGs for unknown queues and bodies that do not open as ERROR, and read() times out", async () => {
    const fake = new FakeClient(() => ({ tag: "OK" }));
    const known = queue(new Uint8Array(24).fill(3));
    register(fake.asClient, known);
    const stream = deliveries(fake.asClient);
    fake.push(new Uint8Array(24).fill(9), msgPush(1));
    const broken = msgPush(2);
    if (broken.tag === "MSG") broken.body[20] = (broken.body[20] as number) ^ 1;
    fake.push(known.rcvId, broken);
    const a = await stream.read(100);
    const b = await stream.read(100);
    expect(a?.type === "ERROR" && a.error.message).toMatch(/unknown queue/);
    expect(b?.type === "ERROR" && b.error).toBeInstanceOf(MessageDecryptionError);
    await expect(stream.read(20)).rejects.toThrow(/no delivery/);
    stream.close();
    expect(await stream.read()).toBeNull();
  });

  it("messages(q) yields one queue's messages in order and ends at END", async () => {
    const fake = new FakeClient(() => ({ tag: "OK" }));
    const q = queue(new Uint8Array(24).fill(4));
    const other = queue(new Uint8Array(24).fill(5));
    register(fake.asClient, other);
    const it = messages(fake.asClient, q);
    for (let n = 1; n <= 5; n++) {
      fake.push(q.rcvId, msgPush(n));
      fake.push(other.rcvId, msgPush(100 + n));
    }
    fake.push(q.rcvId, { tag: "END" });
    fake.push(q.rcvId, msgPush(6)); // after END: not part of this subscription
    const got: number[] = [];
    for await (const m of it) got.push(bodyOf(m));
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });
});
