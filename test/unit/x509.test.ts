// Certificates we generate: they parse back, their signatures verify, OpenSSL (through Node's
// X509Certificate, so no openssl CLI is needed) reads them with the expected names, validity and
// extended key usage and accepts the 2-certificate chain; the other extensions are read from the
// DER. Also the DER codec edge cases and the generateIdentity → hello → verifyServerHello round trip.
import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ServerIdentityError, verifyServerHello } from "../../src/client/verifyServer.js";
import * as der from "../../src/crypto/der.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateSigningKey, publicKeyOf, type SignatureAlgorithm } from "../../src/crypto/signing.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import {
  certificatePublicKey,
  certificateSpki,
  createCaCertificate,
  createOnlineCertificate,
  verifyCertificateSignature,
} from "../../src/crypto/x509.js";
import { ParseError } from "../../src/protocol/encoding.js";
import { decodeServerHello, encodeServerHello } from "../../src/protocol/hello.js";
import { BLOCK_SIZE, pad, unpad } from "../../src/protocol/padding.js";
import {
  deserializeIdentity,
  generateIdentity,
  keyHashOf,
  serializeIdentity,
  serverHelloFor,
  storedCaKey,
} from "../../src/server/identity.js";
import { h, hx } from "./vectors.js";

/** The certificate's extensions by OID: critical flag and the DER inside the OCTET STRING (hex). */
function extensions(certDer: Uint8Array): Map<string, { critical: boolean; value: string }> {
  const tbs = der.children(der.readSingle(certDer))[0]!;
  const wrapper = der.children(tbs).find((t) => t.tag === 0xa3)!;
  const out = new Map<string, { critical: boolean; value: string }>();
  for (const ext of der.children(der.children(wrapper)[0]!)) {
    const [id, ...rest] = der.children(ext);
    const critical = rest.length === 2 && rest[0]!.value[0] === 0xff;
    out.set(der.oidString(id!), { critical, value: hx(rest[rest.length - 1]!.value) });
  }
  return out;
}

/** OpenSSL's chain check as far as Node exposes it: issuer name and key identifiers, signature, CA flag. */
function chainVerifies(online: X509Certificate, ca: X509Certificate): boolean {
  return ca.ca && ca.checkIssued(ca) && ca.verify(ca.publicKey) && online.checkIssued(ca) && online.verify(ca.publicKey);
}

const HOST = "relay.example.com";
const NODE_ALG: Record<SignatureAlgorithm, string> = { ed25519: "ed25519", ed448: "ed448" };
const EXT = { basicConstraints: "2.5.29.19", keyUsage: "2.5.29.15", extKeyUsage: "2.5.29.37", ski: "2.5.29.14", aki: "2.5.29.35" };
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

describe.each(["ed25519", "ed448"] as const)("certificates (%s)", (alg) => {
  async function chain() {
    const caKey = await generateSigningKey(alg);
    const leafKey = await generateSigningKey(alg);
    const caCert = await createCaCertificate(caKey);
    const onlineCert = await createOnlineCertificate(caKey, caCert, await publicKeyOf(leafKey), HOST);
    return { caKey, leafKey, caCert, onlineCert };
  }

  it("parse back: SPKI, public keys, CA self-signature, online signature by the CA", async () => {
    const { caKey, leafKey, caCert, onlineCert } = await chain();
    const caPub = await publicKeyOf(caKey);
    const leafPub = await publicKeyOf(leafKey);
    expect(hx(certificateSpki(caCert))).toBe(hx(encodePublicKey(caPub)));
    expect(hx(certificateSpki(onlineCert))).toBe(hx(encodePublicKey(leafPub)));
    expect(certificatePublicKey(onlineCert)).toEqual(leafPub);
    expect(await verifyCertificateSignature(caCert, caPub)).toBe(true);
    expect(await verifyCertificateSignature(onlineCert, caPub)).toBe(true);
    expect(await verifyCertificateSignature(onlineCert, leafPub)).toBe(false);
    expect(await verifyCertificateSignature(caCert, leafPub)).toBe(false);
  });

  it("serials are random, positive and 16 bytes; validity starts a day ago", async () => {
    const { caCert, onlineCert } = await chain();
    const fields = (c: Uint8Array) => der.children(der.children(der.readSingle(c))[0]!);
    const s1 = fields(caCert)[1]!.value;
    const s2 = fields(onlineCert)[1]!.value;
    for (const s of [s1, s2]) {
      expect(s.length).toBe(16);
      expect(s[0]! & 0x80).toBe(0);
    }
    expect(hx(s1)).not.toBe(hx(s2));
    const validity = der.children(fields(caCert)[4]!);
    expect(validity[0]!.tag).toBe(der.TAG.UTC_TIME);
    expect(validity[1]!.tag).toBe(der.TAG.GENERALIZED_TIME);
    expect(new TextDecoder().decode(validity[1]!.value)).toBe("99991231235959Z");
    const nb = new TextDecoder().decode(validity[0]!.value);
    const notBefore = Date.UTC(2000 + Number(nb.slice(0, 2)), Number(nb.slice(2, 4)) - 1, Number(nb.slice(4, 6)), Number(nb.slice(6, 8)), Number(nb.slice(8, 10)), Number(nb.slice(10, 12)));
    expect(Math.abs(Date.now() - 86_400_000 - notBefore)).toBeLessThan(120_000);
  });

  it("OpenSSL reads the CA's subject, validity and extensions", async () => {
    const { caCert } = await chain();
    const x = new X509Certificate(caCert);
    expect(x.toLegacyObject().subject).toEqual({ CN: "SMP server CA", O: "SimpleX" });
    expect(x.toLegacyObject().issuer).toEqual({ CN: "SMP server CA", O: "SimpleX" });
    expect(x.validTo).toBe("Dec 31 23:59:59 9999 GMT");
    expect(x.publicKey.asymmetricKeyType).toBe(NODE_ALG[alg]);
    expect(x.ca).toBe(true);
    expect(hx(der.children(der.children(der.readSingle(caCert))[0]!)[0]!.value)).toBe("020102"); // v3
    const ext = extensions(caCert);
    expect(ext.get(EXT.basicConstraints)).toEqual({ critical: true, value: "30030101ff" }); // CA:TRUE
    // Like upstream's CA (openssl req -x509 defaults): no keyUsage.
    expect([...ext.keys()].sort()).toEqual([EXT.basicConstraints, EXT.ski, EXT.aki].sort());
  });

  it("OpenSSL reads the online certificate's subject and extensions", async () => {
    const { onlineCert } = await chain();
    const x = new X509Certificate(onlineCert);
    expect(x.toLegacyObject().subject).toEqual({ CN: HOST });
    expect(x.toLegacyObject().issuer).toEqual({ CN: "SMP server CA", O: "SimpleX" });
    expect(x.publicKey.asymmetricKeyType).toBe(NODE_ALG[alg]);
    expect(x.ca).toBe(false);
    expect(x.toLegacyObject().ext_key_usage).toEqual([SERVER_AUTH]); // TLS Web Server Authentication
    const ext = extensions(onlineCert);
    expect(ext.get(EXT.basicConstraints)).toEqual({ critical: true, value: "3000" }); // CA:FALSE
    // Digital Signature, Non Repudiation, Key Agreement
    expect(ext.get(EXT.keyUsage)).toEqual({ critical: true, value: "030203c8" });
    expect(ext.get(EXT.extKeyUsage)?.critical).toBe(false);
    expect([...ext.keys()].sort()).toEqual(Object.values(EXT).sort());
  });

  it("OpenSSL accepts the 2-certificate chain and rejects a foreign CA", async () => {
    const { caCert, onlineCert } = await chain();
    const ca = new X509Certificate(caCert);
    const online = new X509Certificate(onlineCert);
    expect(chainVerifies(online, ca)).toBe(true);
    expect(chainVerifies(ca, online)).toBe(false);
    const other = new X509Certificate(await createCaCertificate(await generateSigningKey(alg)));
    expect(online.checkIssued(other)).toBe(false); // same issuer name, other key identifier
    expect(online.verify(other.publicKey)).toBe(false);
  });

  it("createOnlineCertificate refuses a CA key that does not match the CA certificate", async () => {
    const { caCert, leafKey } = await chain();
    const wrong = await generateSigningKey(alg);
    await expect(createOnlineCertificate(wrong, caCert, await publicKeyOf(leafKey), HOST)).rejects.toThrow(/does not match/);
  });

  it("generateIdentity → serverHelloFor → padded block → verifyServerHello round-trips with a fresh challenge", async () => {
    const { identity } = await generateIdentity(HOST, alg);
    expect(hx(identity.keyHash)).toBe(hx(await keyHashOf(identity.caCert)));
    expect(await verifyCertificateSignature(identity.onlineCert, certificatePublicKey(identity.caCert))).toBe(true);
    const session = await generateX25519();
    const challenge = randomBytes(32);
    const sessionId = randomBytes(32);
    const hello = await serverHelloFor(identity, { sessionId, sessionPublicKey: session.publicKey, challenge });
    expect(hello.minVersion).toBe(19);
    expect(hello.maxVersion).toBe(19);
    expect(hello.certChain).toEqual([identity.onlineCert, identity.caCert]);
    const received = decodeServerHello(unpad(pad(encodeServerHello(hello), BLOCK_SIZE)));
    const { sessionKey } = await verifyServerHello(received, identity.keyHash, challenge);
    expect(hx(sessionKey)).toBe(hx(session.publicKey));
    // Another relay's identity, or a replayed hello for another challenge, does not pass.
    const other = await generateIdentity(HOST, alg);
    await expect(verifyServerHello(received, other.identity.keyHash, challenge)).rejects.toBeInstanceOf(ServerIdentityError);
    await expect(verifyServerHello(received, identity.keyHash, randomBytes(32))).rejects.toBeInstanceOf(ServerIdentityError);
  });

  it("serializeIdentity / deserializeIdentity round-trip through JSON and check the record", async () => {
    const { identity, caKey } = await generateIdentity(HOST, alg);
    const json = JSON.stringify(serializeIdentity(identity, caKey));
    const record = JSON.parse(json) as ReturnType<typeof serializeIdentity>;
    const back = await deserializeIdentity(record);
    expect(back.caCert).toEqual(identity.caCert);
    expect(back.onlineCert).toEqual(identity.onlineCert);
    expect(back.onlineKey).toEqual(identity.onlineKey);
    expect(back.keyHash).toEqual(identity.keyHash);
    expect(storedCaKey(record)).toEqual(caKey);
    expect(serializeIdentity(identity).caKey).toBeUndefined();
    // The online key must be the one certified; a forged keyHash field is ignored.
    const other = serializeIdentity((await generateIdentity(HOST, alg)).identity);
    await expect(deserializeIdentity({ ...record, onlineKey: other.onlineKey })).rejects.toThrow(ParseError);
    const withHash = { ...record, keyHash: "AAAA" };
    expect((await deserializeIdentity(withHash)).keyHash).toEqual(identity.keyHash);
    for (const bad of [null, "x", {}, { ...record, version: 2 }, { ...record, onlineKey: { alg, seed: "AAAA" } }, { ...record, caCert: 5 }]) {
      await expect(deserializeIdentity(bad)).rejects.toThrow(ParseError);
    }
  });
});

describe("mixed algorithms", () => {
  it("an Ed448 CA can certify an Ed25519 online key, and OpenSSL verifies it", async () => {
    const caKey = await generateSigningKey("ed448");
    const leafKey = await generateSigningKey("ed25519");
    const caCert = await createCaCertificate(caKey);
    const onlineCert = await createOnlineCertificate(caKey, caCert, await publicKeyOf(leafKey), HOST);
    expect(certificatePublicKey(onlineCert).alg).toBe("ed25519");
    expect(await verifyCertificateSignature(onlineCert, await publicKeyOf(caKey))).toBe(true);
    expect(chainVerifies(new X509Certificate(onlineCert), new X509Certificate(caCert))).toBe(true);
  });
});

describe("DER codec", () => {
  it("writes lengths, integers, OIDs, booleans, strings and times", () => {
    expect(hx(der.tlv(0x04, new Uint8Array(0x7f))).slice(0, 4)).toBe("047f");
    expect(hx(der.tlv(0x04, new Uint8Array(0x80))).slice(0, 6)).toBe("048180");
    expect(hx(der.tlv(0x04, new Uint8Array(0x100))).slice(0, 8)).toBe("04820100");
    expect(hx(der.tlv(0x04, new Uint8Array(0x10000))).slice(0, 10)).toBe("0483010000");
    expect(hx(der.integer(h("00")))).toBe("020100");
    expect(hx(der.integer(new Uint8Array(0)))).toBe("020100");
    expect(hx(der.integer(h("0002")))).toBe("020102");
    expect(hx(der.integer(h("80")))).toBe("02020080");
    expect(hx(der.integer(h("00007f01")))).toBe("02027f01");
    expect(hx(der.oid("1.3.101.112"))).toBe("06032b6570");
    expect(hx(der.oid("1.2.840.113549.1.1.11"))).toBe("06092a864886f70d01010b");
    expect(hx(der.oid("2.999.3"))).toBe("0603883703");
    expect(() => der.oid("1.40")).toThrow(RangeError);
    expect(() => der.oid("1")).toThrow(RangeError);
    expect(hx(der.boolean(true))).toBe("0101ff");
    expect(hx(der.boolean(false))).toBe("010100");
    expect(hx(der.bitString(h("c8"), 3))).toBe("030203c8");
    expect(hx(der.octetString(h("3000")))).toBe("04023000");
    expect(hx(der.utf8String("é"))).toBe("0c02c3a9");
    expect(hx(der.printableString("SMP CA"))).toBe("1306534d50204341");
    expect(() => der.printableString("a@b")).toThrow(RangeError);
    expect(hx(der.explicit(3, h("3000")))).toBe("a3023000");
    expect(hx(der.set(h("0201ff"), h("020101")))).toBe("3106020101" + "0201ff");
    const d = new Date(Date.UTC(2049, 11, 31, 23, 59, 59));
    expect(hx(der.x509Time(d))).toBe("170d" + hx(new TextEncoder().encode("491231235959Z")));
    expect(hx(der.x509Time(new Date(Date.UTC(2050, 0, 1))))).toBe("180f" + hx(new TextEncoder().encode("20500101000000Z")));
  });

  it("reads what it writes", () => {
    const big = new Uint8Array(70000).fill(7);
    const s = der.sequence(der.oid("1.3.101.113"), der.octetString(big), der.sequence());
    const [o, oct, empty] = der.children(der.readSingle(s, der.TAG.SEQUENCE));
    expect(der.oidString(o!)).toBe("1.3.101.113");
    expect(der.oidString(der.readSingle(der.oid("2.999.3")))).toBe("2.999.3");
    expect(der.oidString(der.readSingle(der.oid("1.2.840.113549.1.1.11")))).toBe("1.2.840.113549.1.1.11");
    expect(oct!.value).toEqual(big);
    expect(der.children(empty!)).toEqual([]);
    expect(der.bitStringBytes(der.readSingle(der.bitString(h("abcd"))))).toEqual(h("abcd"));
  });

  it("reads lengths of up to 4 length bytes, including non-minimal ones", () => {
    expect(der.readSingle(h("0484" + "00000002" + "abcd")).value).toEqual(h("abcd"));
    expect(der.readSingle(h("048102abcd")).value).toEqual(h("abcd"));
  });

  it("throws ParseError on malformed input", () => {
    const bad = [
      "", // empty
      "30", // no length
      "3003020101ff", // trailing byte after readSingle
      "300302", // content overruns
      "3080020100", // indefinite length
      "30850000000001ff", // 5 length bytes
      "3082ff", // truncated length
      "1f0100", // high tag number
      "30ffffffffff", // length far beyond the input
    ];
    for (const x of bad) expect(() => der.readSingle(h(x)), x).toThrow(ParseError);
    expect(() => der.children(der.readSingle(h("3003020201")))).toThrow(ParseError);
    expect(() => der.children(der.readSingle(h("0400")))).toThrow(ParseError);
    expect(() => der.readSingle(h("0400"), der.TAG.SEQUENCE)).toThrow(ParseError);
    expect(() => der.bitStringBytes(der.readSingle(h("030203c8")))).toThrow(ParseError);
    expect(() => der.oidString(der.readSingle(h("06022b85")))).toThrow(ParseError);
    expect(() => der.oidString(der.readSingle(h("0600")))).toThrow(ParseError);
  });

  it("certificateSpki and certificatePublicKey throw ParseError for non-certificates", async () => {
    for (const x of ["", "3000", "30023000", "3003020100", "300a3008a003020102020101"]) {
      expect(() => certificateSpki(h(x)), x).toThrow(ParseError);
    }
    // A certificate-shaped structure whose key is X25519 is not a signing certificate.
    const x25519Spki = encodePublicKey({ alg: "x25519", raw: new Uint8Array(32) });
    const tbs = der.sequence(der.integer(h("01")), der.sequence(), der.sequence(), der.sequence(), der.sequence(), x25519Spki);
    const cert = der.sequence(tbs, der.sequence(), der.bitString(new Uint8Array(64)));
    expect(hx(certificateSpki(cert))).toBe(hx(x25519Spki));
    expect(() => certificatePublicKey(cert)).toThrow(ParseError);
  });
});
