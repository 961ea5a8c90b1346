// Crypto layer against the vectors: X25519, SimpleX cryptoBox (HSalsa20 pre-step), the X25519
// command authenticator (WIRE.md 5.3) and per-queue message body encryption (section 7).
import { afterAll, describe, expect, it } from "vitest";
import { authNonce, makeAuthenticator, verifyAuthorization } from "../../src/crypto/authenticator.js";
import { sha256, sha512 } from "../../src/crypto/hash.js";
import { decodePublicKey, encodePublicKey } from "../../src/crypto/keys.js";
import { boxKey, cryptoBox, cryptoBoxOpen, openWithBoxKey, sealWithBoxKey } from "../../src/crypto/secretbox.js";
import { generateX25519, x25519 } from "../../src/crypto/x25519.js";
import { encodeBatch } from "../../src/protocol/batch.js";
import { decodeResponse, encodeResponse } from "../../src/protocol/commands.js";
import { Encoder } from "../../src/protocol/encoding.js";
import { pad, unpad } from "../../src/protocol/padding.js";
import { decodeServerTransmission, encodeServerTransmission } from "../../src/protocol/transmission.js";
import { ascii, h, hx, rawX25519FromDer, sha256hex, sha512hex, vectorsFor, x25519PublicOf } from "./vectors.js";

const V = vectorsFor("crypto.test.ts");
afterAll(() => V.assertAllUsed());

/** X25519 base point u = 9: x25519(priv, BASE) is the public key. */
const BASE = h("09" + "00".repeat(31));

describe("x25519_dh", () => {
  const v = V.get("x25519_dh", "x25519");
  const a = h(v.inputs.priv_a_hex);
  const b = h(v.inputs.priv_b_hex);

  it("derives the public keys (scalar multiplication of the base point)", async () => {
    expect(hx(await x25519(a, BASE))).toBe(v.outputs.pub_a_hex);
    expect(hx(await x25519(b, BASE))).toBe(v.outputs.pub_b_hex);
    // independent derivation agrees
    expect(hx(x25519PublicOf(v.inputs.priv_a_hex))).toBe(v.outputs.pub_a_hex);
  });

  it("encodes the public key as the 44-byte DER X25519 key", () => {
    const der = encodePublicKey({ alg: "x25519", raw: h(v.outputs.pub_a_hex) });
    expect(der.length).toBe(44);
    expect(hx(der)).toBe(v.outputs.pub_a_der_hex);
    expect(decodePublicKey(der)).toEqual({ alg: "x25519", raw: h(v.outputs.pub_a_hex) });
  });

  it("computes the raw shared secret from both sides", async () => {
    expect(hx(await x25519(a, h(v.outputs.pub_b_hex)))).toBe(v.outputs.shared_hex);
    expect(hx(await x25519(b, h(v.outputs.pub_a_hex)))).toBe(v.outputs.shared_hex);
  });

  it("works with generated key pairs", async () => {
    const p = await generateX25519();
    const q = await generateX25519();
    expect(p.privateKey.length).toBe(32);
    expect(p.publicKey.length).toBe(32);
    expect(hx(await x25519(p.privateKey, BASE))).toBe(hx(p.publicKey));
    expect(hx(await x25519(p.privateKey, q.publicKey))).toBe(hx(await x25519(q.privateKey, p.publicKey)));
  });

  it("rejects a low-order peer key (all-zero output)", async () => {
    await expect(x25519(a, new Uint8Array(32))).rejects.toThrow();
  });
});

describe("crypto_box", () => {
  const v = V.get("crypto_box", "crypto_box");
  const secret = h(v.inputs.secret_hex);
  const nonce = h(v.inputs.nonce_hex);
  const plaintext = h(v.inputs.plaintext_hex);

  it("HSalsa20 pre-step gives the box key", () => {
    expect(hx(boxKey(secret))).toBe(v.outputs.hsalsa20_key_hex);
  });

  it("cryptoBox without padding", () => {
    const boxed = cryptoBox(secret, nonce, plaintext);
    expect(boxed.length).toBe(16 + plaintext.length);
    expect(hx(boxed)).toBe(v.outputs.cryptobox_nopad_hex);
    expect(hx(cryptoBoxOpen(secret, nonce, boxed)!)).toBe(v.inputs.plaintext_hex);
  });

  it("cbEncrypt = cryptoBox over pad(plaintext, padLen)", () => {
    expect(v.inputs.pad_len).toBe(64);
    const padded = pad(plaintext, v.inputs.pad_len);
    const boxed = cryptoBox(secret, nonce, padded);
    expect(boxed.length).toBe(16 + v.inputs.pad_len);
    expect(hx(boxed)).toBe(v.outputs.cbencrypt_padded64_hex);
    const opened = cryptoBoxOpen(secret, nonce, h(v.outputs.cbencrypt_padded64_hex));
    expect(opened).not.toBeNull();
    expect(hx(unpad(opened!))).toBe(v.inputs.plaintext_hex);
  });

  it("equals secretbox keyed with the HSalsa20-derived key, and differs from plain secretbox", () => {
    expect(hx(sealWithBoxKey(h(v.outputs.hsalsa20_key_hex), nonce, plaintext))).toBe(v.outputs.cryptobox_nopad_hex);
    expect(hx(sealWithBoxKey(secret, nonce, plaintext))).not.toBe(v.outputs.cryptobox_nopad_hex);
    expect(openWithBoxKey(secret, nonce, h(v.outputs.cryptobox_nopad_hex))).toBeNull();
  });

  it("NaCl box with a key pair = cryptoBox with their raw X25519 secret", async () => {
    const kp = v.inputs.box_keypair_example;
    const dh = await x25519(h(kp.priv_hex), h(kp.peer_pub_hex));
    expect(hx(dh)).toBe(v.outputs.dh_secret_of_keypair_hex);
    expect(hx(cryptoBox(dh, nonce, plaintext))).toBe(v.outputs.nacl_box_with_keypair_hex);
    expect(hx(cryptoBoxOpen(dh, nonce, h(v.outputs.nacl_box_with_keypair_hex))!)).toBe(v.inputs.plaintext_hex);
  });

  it("open fails on a flipped tag bit, a flipped ciphertext bit, a wrong nonce, a wrong key or a short input", () => {
    const good = h(v.outputs.cryptobox_nopad_hex);
    const tag = good.slice();
    tag[0]! ^= 0x01;
    const body = good.slice();
    body[good.length - 1]! ^= 0x80;
    const otherNonce = nonce.slice();
    otherNonce[23]! ^= 0x01;
    const otherKey = secret.slice();
    otherKey[0]! ^= 0x01;
    expect(cryptoBoxOpen(secret, nonce, tag)).toBeNull();
    expect(cryptoBoxOpen(secret, nonce, body)).toBeNull();
    expect(cryptoBoxOpen(secret, otherNonce, good)).toBeNull();
    expect(cryptoBoxOpen(otherKey, nonce, good)).toBeNull();
    expect(cryptoBoxOpen(secret, nonce, good.subarray(0, 15))).toBeNull();
    expect(cryptoBoxOpen(secret, nonce, new Uint8Array(0))).toBeNull();
  });

  it("boxKey refuses a key that is not 32 bytes", () => {
    expect(() => boxKey(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe("cmd_authenticator", () => {
  const v = V.get("cmd_authenticator", "authenticator");
  const serverPriv = h(v.inputs.server_session_x25519_priv_hex);
  const serverPub = h(v.inputs.server_session_x25519_pub_hex);
  const queuePriv = h(v.inputs.queue_auth_x25519_priv_hex);
  const queuePub = decodePublicKey(h(v.inputs.queue_auth_x25519_pub_der_hex))!;
  const corrId = h(v.inputs.nonce_corr_id_hex);
  const tForAuth = h(v.inputs.t_for_auth_hex);
  const authenticator = h(v.outputs.authenticator_hex);

  it("inputs are consistent (keys, 24-byte corrId)", () => {
    expect(queuePub.alg).toBe("x25519");
    expect(hx(queuePub.raw)).toBe(hx(x25519PublicOf(v.inputs.queue_auth_x25519_priv_hex)));
    expect(hx(x25519PublicOf(v.inputs.server_session_x25519_priv_hex))).toBe(v.inputs.server_session_x25519_pub_hex);
    expect(corrId.length).toBe(24);
    expect(hx(authNonce(corrId))).toBe(v.inputs.nonce_corr_id_hex);
  });

  it("SHA-512 of tForAuth", async () => {
    expect(hx(await sha512(tForAuth))).toBe(v.outputs.sha512_t_for_auth_hex);
    expect(sha512hex(tForAuth)).toBe(v.outputs.sha512_t_for_auth_hex);
  });

  it("the DH secret is the same from the server and the client side", async () => {
    expect(hx(await x25519(serverPriv, queuePub.raw))).toBe(v.outputs.dh_secret_hex);
    expect(hx(await x25519(queuePriv, serverPub))).toBe(v.outputs.dh_secret_hex);
  });

  it("makeAuthenticator reproduces the 80-byte authenticator", async () => {
    const a = await makeAuthenticator(serverPub, queuePriv, corrId, tForAuth);
    expect(a.length).toBe(80);
    expect(hx(a)).toBe(v.outputs.authenticator_hex);
  });

  it("the authenticator opens to SHA-512(tForAuth)", () => {
    const opened = cryptoBoxOpen(h(v.outputs.dh_secret_hex), corrId, authenticator);
    expect(hx(opened!)).toBe(v.outputs.sha512_t_for_auth_hex);
  });

  it("verifyAuthorization accepts it with the server session private key (raw or CryptoKey)", async () => {
    expect(await verifyAuthorization(queuePub, authenticator, tForAuth, corrId, serverPriv)).toBe(true);
    const { importX25519Private } = await import("../../src/crypto/x25519.js");
    expect(await verifyAuthorization(queuePub, authenticator, tForAuth, corrId, await importX25519Private(serverPriv))).toBe(true);
  });

  it("verifyAuthorization rejects a wrong tForAuth, corrId, server key, queue key or a tampered authenticator", async () => {
    const otherT = tForAuth.slice();
    otherT[otherT.length - 1]! ^= 0x01;
    expect(await verifyAuthorization(queuePub, authenticator, otherT, corrId, serverPriv)).toBe(false);

    const otherCorr = corrId.slice();
    otherCorr[0]! ^= 0x01;
    expect(await verifyAuthorization(queuePub, authenticator, tForAuth, otherCorr, serverPriv)).toBe(false);

    const otherServer = await generateX25519();
    expect(await verifyAuthorization(queuePub, authenticator, tForAuth, corrId, otherServer.privateKey)).toBe(false);

    const otherQueue = await generateX25519();
    expect(await verifyAuthorization({ alg: "x25519", raw: otherQueue.publicKey }, authenticator, tForAuth, corrId, serverPriv)).toBe(false);

    for (const i of [0, 15, 16, 79]) {
      const bad = authenticator.slice();
      bad[i]! ^= 0x01;
      expect(await verifyAuthorization(queuePub, bad, tForAuth, corrId, serverPriv)).toBe(false);
    }
  });

  it("verifyAuthorization rejects a wrong length and a low-order key without throwing", async () => {
    expect(await verifyAuthorization(queuePub, authenticator.subarray(0, 79), tForAuth, corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(queuePub, new Uint8Array(81), tForAuth, corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(queuePub, new Uint8Array(0), tForAuth, corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization({ alg: "x25519", raw: new Uint8Array(32) }, authenticator, tForAuth, corrId, serverPriv)).toBe(false);
  });

  it("verifyAuthorization rejects an authenticator checked against a signature key type", async () => {
    const ed = { alg: "ed25519" as const, raw: queuePub.raw };
    const ed448 = { alg: "ed448" as const, raw: new Uint8Array(57) };
    expect(await verifyAuthorization(ed, authenticator, tForAuth, corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(ed, authenticator.subarray(0, 64), tForAuth, corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(ed448, authenticator, tForAuth, corrId, serverPriv)).toBe(false);
  });

  it("authNonce zero-pads short and truncates long corrIds to 24 bytes", () => {
    expect(hx(authNonce(h("0102")))).toBe("0102" + "00".repeat(22));
    expect(hx(authNonce(h("ab".repeat(30))))).toBe("ab".repeat(24));
  });
});

describe("msg_body_encryption", () => {
  const v = V.get("msg_body_encryption", "msg_body");
  const i = v.inputs;
  const o = v.outputs;
  const msgId = h(i.msg_id_hex);
  const ts = BigInt(i.timestamp_seconds);

  const innerPlaintext = (): Uint8Array =>
    new Encoder().int64(ts).ascii(i.notification_flag).ascii(" ").raw(h(i.body_hex)).bytes();

  it("rcvDhSecret from the server queue key and from the recipient key", async () => {
    const fromServer = await x25519(h(i.server_queue_dh_priv_hex), rawX25519FromDer(i.rcv_dh_pub_der_hex));
    const fromRecipient = await x25519(h(i.rcv_dh_priv_hex), rawX25519FromDer(i.server_queue_dh_pub_der_hex));
    expect(hx(fromServer)).toBe(o.rcv_dh_secret_hex);
    expect(hx(fromRecipient)).toBe(o.rcv_dh_secret_hex);
    expect(hx(encodePublicKey({ alg: "x25519", raw: x25519PublicOf(i.server_queue_dh_priv_hex) }))).toBe(i.server_queue_dh_pub_der_hex);
  });

  it("inner plaintext: Int64 timestamp ‖ flag ‖ ' ' ‖ body", () => {
    expect(hx(innerPlaintext())).toBe(o.inner_plaintext_hex);
  });

  it("pads to 16106 and encrypts with the msgId nonce to 16122 bytes", async () => {
    const padded = pad(innerPlaintext(), 16106);
    expect(padded.length).toBe(o.padded_length);
    expect(sha256hex(padded)).toBe(o.padded_sha256);
    expect(msgId.length).toBe(24);
    const enc = cryptoBox(h(o.rcv_dh_secret_hex), msgId, padded);
    expect(enc.length).toBe(o.encrypted_body_length);
    expect(hx(await sha256(enc))).toBe(o.encrypted_body_sha256);
    expect(hx(enc.subarray(0, 48))).toBe(o.encrypted_body_first48_hex);
    expect(hx(enc.subarray(enc.length - 16))).toBe(o.encrypted_body_last16_hex);
  });

  it("the recipient opens it the way smp-web's REPL does", async () => {
    const secret = await x25519(h(i.rcv_dh_priv_hex), rawX25519FromDer(i.server_queue_dh_pub_der_hex));
    const enc = cryptoBox(h(o.rcv_dh_secret_hex), msgId, pad(innerPlaintext(), 16106));
    const opened = cryptoBoxOpen(secret, msgId, enc);
    expect(opened).not.toBeNull();
    const inner = unpad(opened!);
    expect(hx(inner)).toBe(o.inner_plaintext_hex);
    // skip 8 bytes timestamp, 1 flag byte and 1 space
    expect(hx(inner.subarray(10))).toBe(i.body_hex);
  });

  it("quota marker variant: 'QUOTA ' ‖ Int64 timestamp", () => {
    const quota = new Encoder().ascii("QUOTA ").int64(ts).bytes();
    expect(hx(quota)).toBe(o.quota_inner_plaintext_hex);
    const enc = cryptoBox(h(o.rcv_dh_secret_hex), msgId, pad(quota, 16106));
    expect(enc.length).toBe(16122);
    expect(sha256hex(enc)).toBe(o.quota_encrypted_sha256);
  });

  it("MSG push transmission and its batch", () => {
    const enc = cryptoBox(h(o.rcv_dh_secret_hex), msgId, pad(innerPlaintext(), 16106));
    const command = encodeResponse({ tag: "MSG", msgId, body: enc });
    const t = encodeServerTransmission({ corrId: new Uint8Array(0), entityId: h(i.rcv_id_hex), command });
    expect(t.length).toBe(o.msg_transmission_length);
    expect(hx(t.subarray(0, 80))).toBe(o.msg_transmission_first80_hex);
    expect(sha256hex(t)).toBe(o.msg_transmission_sha256);
    expect(sha256hex(encodeBatch([t]))).toBe(o.msg_batch_sha256);

    const back = decodeServerTransmission(t);
    expect(back.corrId.length).toBe(0);
    expect(hx(back.entityId)).toBe(i.rcv_id_hex);
    const r = decodeResponse(back.command);
    expect(r.tag).toBe("MSG");
    if (r.tag !== "MSG") return;
    expect(hx(r.msgId)).toBe(i.msg_id_hex);
    expect(hx(r.body)).toBe(hx(enc));
    expect(hx(ascii("MSG "))).toBe(hx(command.subarray(0, 4)));
  });
});
