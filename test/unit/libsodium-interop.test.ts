// Interop with libsodium (the library smp-web's crypto is built on): our cryptoBox is NaCl
// crypto_box_easy over the raw X25519 secret, our boxKey is crypto_box_beforenm, and our x25519 is
// crypto_scalarmult. Random keys each run, plus the fixed keys of the vectors.
import sodium from "libsodium-wrappers";
import { beforeAll, describe, expect, it } from "vitest";
import { boxKey, cryptoBox, cryptoBoxOpen, openWithBoxKey, sealWithBoxKey } from "../../src/crypto/secretbox.js";
import { generateX25519, x25519 } from "../../src/crypto/x25519.js";
import { chainStep, encryptBlock, decryptBlock } from "../../src/crypto/blockCipher.js";
import { ENCRYPTED_BLOCK_PAD, pad } from "../../src/protocol/padding.js";
import { common, h, hx } from "./vectors.js";

beforeAll(async () => {
  await sodium.ready;
});

interface Pair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const msg = new TextEncoder().encode("SimpleX libsodium interop: crypto_box");

function sodiumPair(): Pair {
  const k = sodium.crypto_box_keypair();
  return { publicKey: k.publicKey, privateKey: k.privateKey };
}

describe("X25519 vs crypto_scalarmult", () => {
  it("public keys: crypto_scalarmult_base equals our key generation and our x25519 with the base point", async () => {
    const base = h("09" + "00".repeat(31));
    for (let n = 0; n < 5; n++) {
      const ours = await generateX25519();
      expect(hx(sodium.crypto_scalarmult_base(ours.privateKey))).toBe(hx(ours.publicKey));
      const theirs = sodiumPair();
      expect(hx(await x25519(theirs.privateKey, base))).toBe(hx(theirs.publicKey));
    }
  });

  it("shared secrets between our key pairs and libsodium key pairs", async () => {
    for (let n = 0; n < 5; n++) {
      const ours = await generateX25519();
      const theirs = sodiumPair();
      const a = await x25519(ours.privateKey, theirs.publicKey);
      const b = sodium.crypto_scalarmult(theirs.privateKey, ours.publicKey);
      expect(hx(a)).toBe(hx(b));
      expect(hx(sodium.crypto_scalarmult(ours.privateKey, theirs.publicKey))).toBe(hx(a));
    }
  });

  it("the fixed server session key of the vectors", async () => {
    const priv = h(common.server_session_x25519_priv_hex);
    expect(hx(sodium.crypto_scalarmult_base(priv))).toBe(common.server_session_x25519_pub_hex);
    const rcv = h(common.rcv_auth_x25519_priv_hex);
    const rcvPub = sodium.crypto_scalarmult_base(rcv);
    expect(hx(await x25519(priv, rcvPub))).toBe(hx(sodium.crypto_scalarmult(rcv, h(common.server_session_x25519_pub_hex))));
  });
});

describe("crypto_box vs cryptoBox", () => {
  it("crypto_box_open_easy opens a box sealed by our cryptoBox with the X25519 shared secret", async () => {
    for (let n = 0; n < 5; n++) {
      const alice = await generateX25519();
      const bob = sodiumPair();
      const nonce = sodium.randombytes_buf(sodium.crypto_box_NONCEBYTES);
      const secret = await x25519(alice.privateKey, bob.publicKey);
      const boxed = cryptoBox(secret, nonce, msg);
      expect(boxed.length).toBe(msg.length + sodium.crypto_box_MACBYTES);
      const opened = sodium.crypto_box_open_easy(boxed, nonce, alice.publicKey, bob.privateKey);
      expect(hx(opened)).toBe(hx(msg));
      // and libsodium seals the same bytes
      expect(hx(sodium.crypto_box_easy(msg, nonce, bob.publicKey, alice.privateKey))).toBe(hx(boxed));
    }
  });

  it("our cryptoBoxOpen opens a crypto_box_easy made by libsodium", async () => {
    for (let n = 0; n < 5; n++) {
      const alice = sodiumPair();
      const bob = await generateX25519();
      const nonce = sodium.randombytes_buf(sodium.crypto_box_NONCEBYTES);
      const boxed = sodium.crypto_box_easy(msg, nonce, bob.publicKey, alice.privateKey);
      const secret = await x25519(bob.privateKey, alice.publicKey);
      expect(hx(cryptoBoxOpen(secret, nonce, boxed)!)).toBe(hx(msg));
      // a libsodium box with one flipped bit is refused
      const bad = boxed.slice();
      bad[bad.length - 1]! ^= 0x01;
      expect(cryptoBoxOpen(secret, nonce, bad)).toBeNull();
    }
  });

  it("a 16106-byte padded message body (the MSG delivery size) interoperates", async () => {
    const queue = await generateX25519();
    const recipient = sodiumPair();
    const msgId = sodium.randombytes_buf(24);
    const padded = pad(msg, 16106);
    const boxed = cryptoBox(await x25519(queue.privateKey, recipient.publicKey), msgId, padded);
    expect(boxed.length).toBe(16122);
    expect(hx(sodium.crypto_box_open_easy(boxed, msgId, queue.publicKey, recipient.privateKey))).toBe(hx(padded));
  });
});

describe("secretbox with the HSalsa20 pre-step", () => {
  it("boxKey(X25519 secret) = crypto_box_beforenm", async () => {
    for (let n = 0; n < 5; n++) {
      const alice = await generateX25519();
      const bob = sodiumPair();
      const secret = await x25519(alice.privateKey, bob.publicKey);
      expect(hx(boxKey(secret))).toBe(hx(sodium.crypto_box_beforenm(alice.publicKey, bob.privateKey)));
    }
  });

  it("sealing with the derived key = crypto_secretbox_easy = crypto_box_easy_afternm", async () => {
    const alice = sodiumPair();
    const bob = sodiumPair();
    const k = sodium.crypto_box_beforenm(bob.publicKey, alice.privateKey);
    const nonce = sodium.randombytes_buf(24);
    const ours = sealWithBoxKey(k, nonce, msg);
    expect(hx(sodium.crypto_secretbox_easy(msg, nonce, k))).toBe(hx(ours));
    expect(hx(sodium.crypto_box_easy_afternm(msg, nonce, k))).toBe(hx(ours));
    expect(hx(openWithBoxKey(k, nonce, sodium.crypto_secretbox_easy(msg, nonce, k))!)).toBe(hx(msg));
    expect(hx(sodium.crypto_secretbox_open_easy(ours, nonce, k))).toBe(hx(msg));
    const secret = await x25519(alice.privateKey, bob.publicKey);
    expect(hx(cryptoBox(secret, nonce, msg))).toBe(hx(ours));
  });

  it("a block: cryptoBox(sbKey) is crypto_secretbox_easy with HSalsa20(sbKey), not with sbKey itself", () => {
    const chainKey = sodium.randombytes_buf(32);
    const content = new TextEncoder().encode("block content");
    const { block } = encryptBlock(chainKey, content);
    const step = chainStep(chainKey);
    const padded = pad(content, ENCRYPTED_BLOCK_PAD);
    // libsodium-wrappers (non-sumo) exposes HSalsa20 only inside crypto_box_beforenm, which takes a
    // key pair, so the pre-step itself comes from our boxKey (checked against beforenm above).
    expect(hx(sodium.crypto_secretbox_easy(padded, step.nonce, boxKey(step.key)))).toBe(hx(block));
    expect(hx(sodium.crypto_secretbox_easy(padded, step.nonce, step.key))).not.toBe(hx(block));
    expect(hx(sodium.crypto_secretbox_open_easy(block, step.nonce, boxKey(step.key)))).toBe(hx(padded));
    const sealed = sodium.crypto_secretbox_easy(padded, step.nonce, boxKey(step.key));
    expect(hx(decryptBlock(chainKey, sealed).content!)).toBe(hx(content));
  });
});
