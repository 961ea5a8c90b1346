// Block encryption (WIRE.md 4): chain init from the handshake DH, chain steps, and the encrypted
// blocks of one session in both directions.
import { afterAll, describe, expect, it } from "vitest";
import { chainInit, chainStep, decryptBlock, encryptBlock } from "../../src/crypto/blockCipher.js";
import { boxKey, openWithBoxKey, sealWithBoxKey } from "../../src/crypto/secretbox.js";
import { x25519 } from "../../src/crypto/x25519.js";
import { decodeBatch } from "../../src/protocol/batch.js";
import { BLOCK_SIZE, ENCRYPTED_BLOCK_PAD, pad, unpad } from "../../src/protocol/padding.js";
import { decodeClientTransmission, decodeServerTransmission } from "../../src/protocol/transmission.js";
import { decodeResponse } from "../../src/protocol/commands.js";
import { common, h, hx, sha256hex, vectorByName, vectorsFor, x25519PublicOf } from "./vectors.js";

const V = vectorsFor("block-encryption.test.ts");
afterAll(() => V.assertAllUsed());

describe("sbc_init", () => {
  const v = V.get("sbc_init", "sbc_init");
  const i = v.inputs;
  const o = v.outputs;

  it("uses the common session and server session key", () => {
    expect(i.session_id_hex).toBe(common.session_id_hex);
    expect(i.server_session_x25519_priv_hex).toBe(common.server_session_x25519_priv_hex);
    expect(o.server_session_x25519_pub_hex).toBe(common.server_session_x25519_pub_hex);
    expect(hx(x25519PublicOf(i.server_session_x25519_priv_hex))).toBe(o.server_session_x25519_pub_hex);
    expect(hx(x25519PublicOf(i.client_hello_x25519_priv_hex))).toBe(o.client_hello_x25519_pub_hex);
  });

  it("dhSecret = X25519(serverSessionPriv, clientHelloPub) = X25519(clientHelloPriv, serverSessionPub)", async () => {
    expect(hx(await x25519(h(i.server_session_x25519_priv_hex), h(o.client_hello_x25519_pub_hex)))).toBe(o.dh_secret_hex);
    expect(hx(await x25519(h(i.client_hello_x25519_priv_hex), h(o.server_session_x25519_pub_hex)))).toBe(o.dh_secret_hex);
  });

  it("chainInit splits HKDF-SHA512(sessionId, dhSecret, 'SimpleXSbChainInit', 64) into A and B", () => {
    const keys = chainInit(h(i.session_id_hex), h(o.dh_secret_hex));
    expect(hx(keys.a)).toBe(o.chain_key_A_hex);
    expect(hx(keys.b)).toBe(o.chain_key_B_hex);
  });

  it("documents the direction: server sends with A and receives with B", () => {
    expect([o.server_send_chain, o.server_receive_chain, o.client_send_chain, o.client_receive_chain]).toEqual(["A", "B", "B", "A"]);
  });

  it("a different session ID gives different chains", () => {
    const sid = h(i.session_id_hex);
    sid[0]! ^= 0x01;
    const keys = chainInit(sid, h(o.dh_secret_hex));
    expect(hx(keys.a)).not.toBe(o.chain_key_A_hex);
    expect(hx(keys.b)).not.toBe(o.chain_key_B_hex);
  });
});

describe("sbc_chain_steps", () => {
  const v = V.get("sbc_chain_steps", "sbc_chain");

  it("starts from chain key A of sbc_init", () => {
    expect(v.inputs.chain_key_hex).toBe(vectorByName("sbc_init", "sbc_init").outputs.chain_key_A_hex);
  });

  it("two successive steps give next key, sbKey and nonce", () => {
    const s1 = chainStep(h(v.inputs.chain_key_hex));
    expect(hx(s1.key)).toBe(v.outputs.step1.sb_key_hex);
    expect(hx(s1.nonce)).toBe(v.outputs.step1.nonce_hex);
    expect(hx(s1.next)).toBe(v.outputs.step1.next_chain_key_hex);
    const s2 = chainStep(s1.next);
    expect(hx(s2.key)).toBe(v.outputs.step2.sb_key_hex);
    expect(hx(s2.nonce)).toBe(v.outputs.step2.nonce_hex);
    expect(hx(s2.next)).toBe(v.outputs.step2.next_chain_key_hex);
    expect([s1.next.length, s1.key.length, s1.nonce.length]).toEqual([32, 32, 24]);
  });
});

describe("block_encryption_session", () => {
  const v = V.get("block_encryption_session", "block_encryption");
  const i = v.inputs;
  const o = v.outputs;
  const A = h(i.chain_key_A_hex);
  const B = h(i.chain_key_B_hex);

  it("uses the chain keys of sbc_init and the NEW / IDS / PONG batches of the other vectors", () => {
    const init = vectorByName("sbc_init", "sbc_init");
    expect(i.session_id_hex).toBe(init.inputs.session_id_hex);
    expect(i.chain_key_A_hex).toBe(init.outputs.chain_key_A_hex);
    expect(i.chain_key_B_hex).toBe(init.outputs.chain_key_B_hex);
    expect(i.client_block1_plaintext_batch_hex).toBe(vectorByName("client_NEW", "client_transmission").outputs.batch_block_content_hex);
    expect(i.server_block1_plaintext_batch_hex).toBe(vectorByName("server_IDS", "server_response").outputs.batch_block_content_hex);
    expect(i.server_block2_plaintext_batch_hex).toBe(vectorByName("server_PONG", "server_response").outputs.batch_block_content_hex);
  });

  it("client block #1 (NEW) is sealed with chain B step 1", () => {
    const { block, next } = encryptBlock(B, h(i.client_block1_plaintext_batch_hex));
    expect(block.length).toBe(BLOCK_SIZE);
    expect(sha256hex(block)).toBe(o.client_block1.sha256);
    expect(hx(block.subarray(0, 48))).toBe(o.client_block1.first48_hex);
    expect(hx(next)).toBe(o.client_block1.chain_B_next_hex);
  });

  it("server block #1 (IDS) uses chain A step 1 and server block #2 (PONG) chain A step 2", () => {
    const b1 = encryptBlock(A, h(i.server_block1_plaintext_batch_hex));
    expect(b1.block.length).toBe(BLOCK_SIZE);
    expect(sha256hex(b1.block)).toBe(o.server_block1.sha256);
    expect(hx(b1.block.subarray(0, 48))).toBe(o.server_block1.first48_hex);
    expect(hx(b1.next)).toBe(o.server_block1.chain_A_next_hex);

    const b2 = encryptBlock(b1.next, h(i.server_block2_plaintext_batch_hex));
    expect(b2.block.length).toBe(BLOCK_SIZE);
    expect(sha256hex(b2.block)).toBe(o.server_block2.sha256);
    expect(hx(b2.block.subarray(0, 48))).toBe(o.server_block2.first48_hex);
    expect(hx(b2.next)).toBe(o.server_block2.chain_A_next_hex);
  });

  it("the block is cryptoBox(sbKey, nonce, pad(batch, 16368)) with the HSalsa20 pre-step", () => {
    const { block } = encryptBlock(B, h(i.client_block1_plaintext_batch_hex));
    const step = chainStep(B);
    const padded = openWithBoxKey(boxKey(step.key), step.nonce, block);
    expect(padded).not.toBeNull();
    expect(padded!.length).toBe(ENCRYPTED_BLOCK_PAD);
    expect(hx(padded!)).toBe(hx(pad(h(i.client_block1_plaintext_batch_hex), ENCRYPTED_BLOCK_PAD)));
    // without the pre-step the tag does not verify
    expect(openWithBoxKey(step.key, step.nonce, block)).toBeNull();
  });

  it("the server decrypts the client block with chain B and gets the NEW transmission back", () => {
    const { block } = encryptBlock(B, h(i.client_block1_plaintext_batch_hex));
    const { content, next } = decryptBlock(B, block);
    expect(content).not.toBeNull();
    expect(hx(content!)).toBe(i.client_block1_plaintext_batch_hex);
    expect(hx(next)).toBe(o.client_block1.chain_B_next_hex);
    const [t] = decodeBatch(content!);
    const ct = decodeClientTransmission(t!);
    expect(hx(ct.command.subarray(0, 4))).toBe("4e455720"); // "NEW "
  });

  it("the client decrypts both server blocks in order with chain A", () => {
    const b1 = encryptBlock(A, h(i.server_block1_plaintext_batch_hex));
    const b2 = encryptBlock(b1.next, h(i.server_block2_plaintext_batch_hex));
    const d1 = decryptBlock(A, b1.block);
    const d2 = decryptBlock(d1.next, b2.block);
    expect(hx(d1.content!)).toBe(i.server_block1_plaintext_batch_hex);
    expect(hx(d2.content!)).toBe(i.server_block2_plaintext_batch_hex);
    expect(hx(d2.next)).toBe(o.server_block2.chain_A_next_hex);
    const r1 = decodeResponse(decodeServerTransmission(decodeBatch(d1.content!)[0]!).command);
    const r2 = decodeResponse(decodeServerTransmission(decodeBatch(d2.content!)[0]!).command);
    expect([r1.tag, r2.tag]).toEqual(["IDS", "PONG"]);
  });

  it("a tampered block fails to decrypt, and the chain still advances", () => {
    const { block } = encryptBlock(B, h(i.client_block1_plaintext_batch_hex));
    for (const pos of [0, 15, 16, 100, BLOCK_SIZE - 1]) {
      const bad = block.slice();
      bad[pos]! ^= 0x01;
      const r = decryptBlock(B, bad);
      expect(r.content).toBeNull();
      expect(hx(r.next)).toBe(o.client_block1.chain_B_next_hex);
    }
  });

  it("a block fails with the wrong chain (direction) or the wrong step", () => {
    const { block } = encryptBlock(B, h(i.client_block1_plaintext_batch_hex));
    expect(decryptBlock(A, block).content).toBeNull();
    expect(decryptBlock(h(o.client_block1.chain_B_next_hex), block).content).toBeNull();
  });

  it("a truncated block or one with a malformed padding length fails", () => {
    const { block } = encryptBlock(B, h(i.client_block1_plaintext_batch_hex));
    expect(decryptBlock(B, block.subarray(0, BLOCK_SIZE - 1)).content).toBeNull();
    expect(decryptBlock(B, new Uint8Array(0)).content).toBeNull();

    // Correctly sealed, but the padded length claims more than the 16366 available bytes.
    const step = chainStep(B);
    const badPad = new Uint8Array(ENCRYPTED_BLOCK_PAD).fill(0x23);
    badPad[0] = 0xff;
    badPad[1] = 0xff;
    const sealed = encryptBlockRaw(step, badPad);
    expect(decryptBlock(B, sealed).content).toBeNull();
  });

  it("encryptBlock refuses content that does not fit a block", () => {
    expect(() => encryptBlock(A, new Uint8Array(ENCRYPTED_BLOCK_PAD - 1))).toThrow(RangeError);
    const max = encryptBlock(A, new Uint8Array(ENCRYPTED_BLOCK_PAD - 2).fill(1));
    expect(max.block.length).toBe(BLOCK_SIZE);
    expect(decryptBlock(A, max.block).content!.length).toBe(ENCRYPTED_BLOCK_PAD - 2);
    expect(unpad(pad(new Uint8Array(0), ENCRYPTED_BLOCK_PAD)).length).toBe(0);
  });
});

function encryptBlockRaw(step: { key: Uint8Array; nonce: Uint8Array }, padded: Uint8Array): Uint8Array {
  return sealWithBoxKey(boxKey(step.key), step.nonce, padded);
}
