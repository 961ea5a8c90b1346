// Handshake blocks (WIRE.md 3): the client_hello vector, and the server hello codec on synthetic
// fields. The server_hello_* vectors (certificates, signed key, proof) are in server-hello.test.ts.
import { afterAll, describe, expect, it } from "vitest";
import { decodePublicKey, encodePublicKey } from "../../src/crypto/keys.js";
import { ParseError } from "../../src/protocol/encoding.js";
import {
  decodeClientHello,
  decodeServerHello,
  encodeClientHello,
  encodeServerHello,
  SMP_VERSION,
  type ServerHello,
} from "../../src/protocol/hello.js";
import { BLOCK_SIZE, pad, unpad } from "../../src/protocol/padding.js";
import { common, h, hx, sha256hex, vectorsFor, x25519PublicOf, X25519_DER_PREFIX } from "./vectors.js";

const V = vectorsFor("hello.test.ts");
afterAll(() => V.assertAllUsed());

describe("client_hello", () => {
  const v = V.get("client_hello", "client_hello");
  const i = v.inputs;
  const o = v.outputs;
  const clientKey = encodePublicKey({ alg: "x25519", raw: h(i.client_x25519_pub_hex) });

  it("the client key is the public half of the given private key", () => {
    expect(hx(x25519PublicOf(i.client_x25519_priv_hex))).toBe(i.client_x25519_pub_hex);
    expect(i.smp_version).toBe(SMP_VERSION);
  });

  it("encodeClientHello reproduces the 82-byte hello", () => {
    const hello = encodeClientHello({ version: i.smp_version, keyHash: h(i.key_hash_hex), clientKey, proxyServer: false, clientService: null });
    expect(hello.length).toBe(o.hello_length);
    expect(hello.length).toBe(82);
    expect(hx(hello)).toBe(o.hello_hex);
    // 0013 ‖ 20 ‖ keyHash ‖ 2c ‖ DER ‖ "F" ‖ "0"
    expect(o.hello_hex).toBe("0013" + "20" + i.key_hash_hex + "2c" + X25519_DER_PREFIX + i.client_x25519_pub_hex + "46" + "30");
  });

  it("the padded block", () => {
    const block = pad(h(o.hello_hex), BLOCK_SIZE);
    expect(sha256hex(block)).toBe(o.padded_block_sha256);
    expect(hx(block.subarray(0, 64))).toBe(o.padded_block_first64_hex);
  });

  it("decodeClientHello reads it back from the padded block", () => {
    const hello = decodeClientHello(unpad(pad(h(o.hello_hex), BLOCK_SIZE)));
    expect(hello).toEqual({ version: 19, keyHash: h(i.key_hash_hex), clientKey, proxyServer: false, clientService: null });
    expect(decodePublicKey(hello.clientKey!)).toEqual({ alg: "x25519", raw: h(i.client_x25519_pub_hex) });
  });

  it("ignores trailing bytes, as upstream does, and rejects a truncated hello", () => {
    const longer = h(o.hello_hex + "ffee");
    expect(decodeClientHello(longer).keyHash).toEqual(h(i.key_hash_hex));
    expect(() => decodeClientHello(h(o.hello_hex.slice(0, 40)))).toThrow(ParseError);
    const badBool = h(o.hello_hex);
    badBool[80] = 0x58;
    expect(() => decodeClientHello(badBool)).toThrow(ParseError);
  });

  it("reads a present clientService and proxyServer = T", () => {
    const hello = encodeClientHello({ version: 19, keyHash: h(i.key_hash_hex), clientKey, proxyServer: true, clientService: h("0102") });
    expect(hx(hello.subarray(80))).toBe("54" + "31" + "0102");
    const back = decodeClientHello(hello);
    expect(back.proxyServer).toBe(true);
    expect(back.clientService).not.toBeNull();
  });
});

describe("server hello codec", () => {
  // Synthetic fields: the vector hellos are tested in server-hello.test.ts with the real chain.
  const base: ServerHello = {
    minVersion: 19,
    maxVersion: 19,
    sessionId: h(common.session_id_hex),
    certChain: [h("3003020101"), h("3003020102")],
    signedKey: h("3003020103"),
    identityProof: new Uint8Array(64).fill(0xab),
  };

  it("encodes Word16 min ‖ Word16 max ‖ BS sessionId ‖ NonEmpty Large certs ‖ Large signedKey ‖ BS proof", () => {
    const hello = encodeServerHello(base);
    expect(hx(hello)).toBe(
      "0013" + "0013" + "20" + common.session_id_hex + "02" + "0005" + "3003020101" + "0005" + "3003020102" + "0005" + "3003020103" + "40" + "ab".repeat(64),
    );
    expect(decodeServerHello(hello)).toEqual(base);
  });

  it("omits the proof field entirely when there is no challenge, and never sends an empty one", () => {
    const hello = encodeServerHello({ ...base, identityProof: null });
    expect(hx(hello).endsWith("0005" + "3003020103")).toBe(true);
    expect(decodeServerHello(hello).identityProof).toBeNull();
    expect(() => encodeServerHello({ ...base, identityProof: new Uint8Array(0) })).toThrow(RangeError);
    expect(() => encodeServerHello({ ...base, certChain: [] })).toThrow(RangeError);
  });

  it("reads optional fields only when the announced version has them, as smp-web does", () => {
    const full = encodeServerHello(base);
    // maxVersion 18: the proof bytes are not read
    const v18 = full.slice();
    v18[3] = 18;
    expect(decodeServerHello(v18).identityProof).toBeNull();
    expect(decodeServerHello(v18).certChain.length).toBe(2);
    // maxVersion 6: neither certificates nor signed key
    const v6 = full.slice();
    v6[3] = 6;
    expect(decodeServerHello(v6)).toMatchObject({ maxVersion: 6, certChain: [], signedKey: new Uint8Array(0), identityProof: null });
    // no bytes after the session ID
    const bare = full.subarray(0, 4 + 1 + 32);
    expect(decodeServerHello(bare).certChain).toEqual([]);
  });

  it("rejects a truncated hello and an empty certificate list", () => {
    const full = encodeServerHello(base);
    expect(() => decodeServerHello(full.subarray(0, 3))).toThrow(ParseError);
    expect(() => decodeServerHello(full.subarray(0, 20))).toThrow(ParseError);
    expect(() => decodeServerHello(full.subarray(0, full.length - 1))).toThrow(ParseError);
    const noCerts = h("0013001320" + common.session_id_hex + "00" + "0000");
    expect(() => decodeServerHello(noCerts)).toThrow(ParseError);
  });
});
