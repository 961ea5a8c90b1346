// The relay identity against the sample chains of server_hello_ed25519 / server_hello_ed448:
// certificates rebuilt byte for byte, SPKI walk, signed session key, identity proof, the padded
// hello, and the client-side checks (smp-web's four, plus refusing a hello without a proof).
import { afterAll, describe, expect, it } from "vitest";
import * as der from "../../src/crypto/der.js";
import { identityProof } from "../../src/crypto/identityProof.js";
import { decodeSignedSessionKey, encodeSignedSessionKey } from "../../src/crypto/signedKey.js";
import { publicKeyOf, sign, type SigningKey } from "../../src/crypto/signing.js";
import {
  algorithmIdentifier,
  certificatePublicKey,
  certificateSpki,
  createCaCertificate,
  createOnlineCertificate,
  verifyCertificateSignature,
} from "../../src/crypto/x509.js";
import { ServerIdentityError, verifyServerHello } from "../../src/client/verifyServer.js";
import { base64url } from "../../src/protocol/base64.js";
import { Encoder } from "../../src/protocol/encoding.js";
import { decodeServerHello, encodeServerHello, type ServerHello } from "../../src/protocol/hello.js";
import { pad, unpad, BLOCK_SIZE } from "../../src/protocol/padding.js";
import { keyHashOf, serverHelloFor, type RelayIdentity } from "../../src/server/identity.js";
import { h, hx, sha256hex, vectorsFor } from "./vectors.js";

const V = vectorsFor("server-hello.test.ts");
afterAll(() => V.assertAllUsed());

const cases = [
  { name: "server_hello_ed25519", alg: "ed25519", signedKeyLength: 122, proofLength: 64 },
  { name: "server_hello_ed448", alg: "ed448", signedKeyLength: 173, proofLength: 114 },
] as const;

/** The serial of a certificate (second TBSCertificate field, after [0] version). */
function serialOf(cert: Uint8Array): Uint8Array {
  const [tbs] = der.children(der.readSingle(cert));
  return der.children(tbs!)[1]!.value;
}

describe.each(cases)("$name", ({ name, alg, signedKeyLength, proofLength }) => {
  const v = V.get(name, "server_hello");
  const { inputs: i, outputs: o } = v;
  const caKey: SigningKey = { alg, seed: h(i.ca_private_seed_hex) };
  const leafKey: SigningKey = { alg, seed: h(i.leaf_private_seed_hex) };
  const ca = h(o.ca_cert_der_hex);
  const leaf = h(o.leaf_cert_der_hex);
  const sessionId = h(i.session_id_hex);
  const sessionPub = h(i.server_session_x25519_pub_hex);
  const challenge = h(i.challenge_hex);
  const keyHash = h(o.key_hash_hex);

  async function helloWith(patch: Partial<ServerHello>): Promise<ServerHello> {
    return {
      minVersion: 19,
      maxVersion: 19,
      sessionId,
      certChain: [leaf, ca],
      signedKey: await encodeSignedSessionKey(leafKey, sessionPub),
      identityProof: await identityProof(leafKey, challenge, sessionId),
      ...patch,
    };
  }

  it("the vector's leaf seed matches the leaf certificate key", async () => {
    expect(i.version_range).toEqual([19, 19]);
    expect(base64url.encode(challenge)).toBe(i.challenge_query.slice("challenge=".length));
    expect(hx(certificateSpki(leaf))).toBe(o.leaf_spki_der_hex);
    const k = certificatePublicKey(leaf);
    expect(k.alg).toBe(alg);
    expect(hx(k.raw)).toBe(hx((await publicKeyOf(leafKey)).raw));
    expect(hx(certificatePublicKey(ca).raw)).toBe(hx((await publicKeyOf(caKey)).raw));
  });

  it("createCaCertificate and createOnlineCertificate rebuild the sample chain byte for byte", async () => {
    const notBefore = new Date(Date.UTC(2025, 0, 1));
    const caCert = await createCaCertificate(caKey, {
      commonName: "Example SMP relay CA",
      organization: "Example",
      serial: serialOf(ca),
      notBefore,
    });
    expect(hx(caCert)).toBe(o.ca_cert_der_hex);
    const online = await createOnlineCertificate(caKey, ca, await publicKeyOf(leafKey), "relay.example", {
      serial: serialOf(leaf),
      notBefore,
    });
    expect(hx(online)).toBe(o.leaf_cert_der_hex);
  });

  it("keyHashOf(CA) is the vector keyHash, in hex and base64url", async () => {
    expect(hx(await keyHashOf(ca))).toBe(o.key_hash_hex);
    expect(base64url.encode(await keyHashOf(ca))).toBe(o.key_hash_base64url);
  });

  it("certificate signatures verify (the sample chain passes openssl verify)", async () => {
    const caPub = await publicKeyOf(caKey);
    const leafPub = await publicKeyOf(leafKey);
    expect(await verifyCertificateSignature(ca, caPub)).toBe(true);
    expect(await verifyCertificateSignature(leaf, caPub)).toBe(true);
    expect(await verifyCertificateSignature(leaf, leafPub)).toBe(false);
    const tampered = leaf.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(await verifyCertificateSignature(tampered, caPub)).toBe(false);
    expect(await verifyCertificateSignature(leaf.subarray(0, 100), caPub)).toBe(false);
  });

  it("encodeSignedSessionKey reproduces signed_key_der_hex", async () => {
    const signed = await encodeSignedSessionKey(leafKey, sessionPub);
    expect(hx(signed)).toBe(o.signed_key_der_hex);
    expect(signed.length).toBe(signedKeyLength);
    const [signedPart] = der.children(der.readSingle(signed));
    expect(hx(signedPart!.der)).toBe(o.signed_key_signed_part_hex);
  });

  it("decodeSignedSessionKey returns the X25519 key and rejects forgeries", async () => {
    const leafPub = certificatePublicKey(leaf);
    const signed = h(o.signed_key_der_hex);
    expect(hx((await decodeSignedSessionKey(signed, leafPub))!)).toBe(i.server_session_x25519_pub_hex);
    expect(await decodeSignedSessionKey(signed, certificatePublicKey(ca))).toBeNull();
    const flipped = signed.slice();
    flipped[20]! ^= 1; // inside the X25519 key
    expect(await decodeSignedSessionKey(flipped, leafPub)).toBeNull();
    expect(await decodeSignedSessionKey(signed.subarray(0, 60), leafPub)).toBeNull();
    expect(await decodeSignedSessionKey(new Uint8Array(0), leafPub)).toBeNull();
  });

  it("decodeSignedSessionKey also accepts the bare-SPKI form, as smp-web does", async () => {
    expect(o.negative_checks.bare_44_byte_spki_signed_key).toMatch(/^accepted/);
    const spki = der.children(der.readSingle(h(o.signed_key_signed_part_hex)))[0]!.der;
    const bare = der.sequence(spki, algorithmIdentifier(alg), der.bitString(await sign(leafKey, spki)));
    expect(hx((await decodeSignedSessionKey(bare, certificatePublicKey(leaf)))!)).toBe(i.server_session_x25519_pub_hex);
  });

  it("identityProof reproduces identity_proof_hex", async () => {
    const proof = await identityProof(leafKey, challenge, sessionId);
    expect(hx(proof)).toBe(o.identity_proof_hex);
    expect(proof.length).toBe(proofLength);
  });

  it("encodeServerHello + pad reproduce the hello and its padded block", async () => {
    const hello = encodeServerHello(await helloWith({}));
    expect(hx(hello)).toBe(o.hello_hex);
    expect(hello.length).toBe(o.hello_length);
    const block = pad(hello, BLOCK_SIZE);
    expect(sha256hex(block)).toBe(o.padded_block_sha256);
    expect(hx(block.subarray(0, 64))).toBe(o.padded_block_first64_hex);
  });

  it("serverHelloFor with the sample identity produces the same hello", async () => {
    const identity: RelayIdentity = { caCert: ca, onlineCert: leaf, onlineKey: leafKey, keyHash };
    const hello = await serverHelloFor(identity, { sessionId, sessionPublicKey: sessionPub, challenge });
    expect(hx(encodeServerHello(hello))).toBe(o.hello_hex);
    const noProof = await serverHelloFor(identity, { sessionId, sessionPublicKey: sessionPub, challenge: null });
    expect(noProof.identityProof).toBeNull();
    expect(hx(encodeServerHello(noProof))).toBe(o.hello_hex.slice(0, -2 * (1 + proofLength)));
  });

  it("verifyServerHello accepts the vector hello and returns the session key", async () => {
    const hello = decodeServerHello(unpad(pad(h(o.hello_hex), BLOCK_SIZE)));
    expect(o.smp_web_accepts).toBe(true);
    const { sessionKey } = await verifyServerHello(hello, keyHash, challenge);
    expect(hx(sessionKey)).toBe(i.server_session_x25519_pub_hex);
  });

  describe("negative checks", () => {
    const rejects = async (hello: ServerHello, hash = keyHash, ch = challenge, message?: RegExp): Promise<void> => {
      const p = verifyServerHello(hello, hash, ch);
      await expect(p).rejects.toBeInstanceOf(ServerIdentityError);
      if (message) await expect(p).rejects.toThrow(message);
    };

    it("keyHash of the leaf instead of the CA is rejected", async () => {
      expect(o.negative_checks.keyHash_of_leaf_instead_of_ca).toBe("rejected");
      await rejects(await helloWith({}), await keyHashOf(leaf), challenge, /key hash/);
    });

    it("a single-certificate chain is rejected, and so is one of 5", async () => {
      expect(o.negative_checks.single_certificate_chain).toBe("rejected");
      await rejects(await helloWith({ certChain: [leaf] }), keyHash, challenge, /1 certificates/);
      await rejects(await helloWith({ certChain: [leaf, ca, ca, ca, ca] }));
    });

    it("3 and 4 certificates are accepted (identity = chain[1])", async () => {
      await expect(verifyServerHello(await helloWith({ certChain: [leaf, ca, ca] }), keyHash, challenge)).resolves.toBeTruthy();
      await expect(verifyServerHello(await helloWith({ certChain: [leaf, ca, leaf, ca] }), keyHash, challenge)).resolves.toBeTruthy();
    });

    it("a proof over the length-prefixed sessionId is rejected", async () => {
      expect(o.negative_checks.proof_over_length_prefixed_sessionId).toBe("rejected");
      const prefixed = new Encoder().shortBytes(sessionId).bytes();
      const proof = await identityProof(leafKey, challenge, prefixed);
      await rejects(await helloWith({ identityProof: proof }), keyHash, challenge, /identity proof/);
    });

    it("a missing proof is refused by our client (smp-web would skip every check)", async () => {
      const hello = decodeServerHello(h(o.hello_hex.slice(0, -2 * (1 + proofLength))));
      expect(hello.identityProof).toBeNull();
      await rejects(hello, keyHash, challenge, /no identity proof/);
    });

    it("an empty proof, a proof for another challenge and a proof by the CA key are rejected", async () => {
      await rejects(await helloWith({ identityProof: new Uint8Array(0) }));
      await rejects(await helloWith({}), keyHash, new Uint8Array(32));
      await rejects(await helloWith({ identityProof: await identityProof(caKey, challenge, sessionId) }));
    });

    it("a session key signed by another key is rejected", async () => {
      await rejects(await helloWith({ signedKey: await encodeSignedSessionKey(caKey, sessionPub) }), keyHash, challenge, /signed session key/);
    });

    it("a leaf without an Ed25519/Ed448 key is rejected", async () => {
      await rejects(await helloWith({ certChain: [new Uint8Array([0x30, 0x00]), ca] }), keyHash, challenge, /online certificate/);
    });

    it("like smp-web, an expired leaf not signed by the CA is accepted (chain signatures and dates are not checked)", async () => {
      expect(o.negative_checks.leaf_not_signed_by_ca_and_expired).toMatch(/^accepted/);
      const rogue = await createCaCertificate(leafKey, {
        notBefore: new Date(Date.UTC(2000, 0, 1)),
        notAfter: new Date(Date.UTC(2001, 0, 1)),
      });
      expect(await verifyCertificateSignature(rogue, certificatePublicKey(ca))).toBe(false);
      const { sessionKey } = await verifyServerHello(await helloWith({ certChain: [rogue, ca] }), keyHash, challenge);
      expect(hx(sessionKey)).toBe(i.server_session_x25519_pub_hex);
    });
  });
});
