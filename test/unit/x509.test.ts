// Certificates we generate: they parse back, their signatures verify, OpenSSL reads them with the
// expected names and extensions and `openssl verify` accepts the 2-certificate chain. Also the DER
// codec edge cases and the generateIdentity → hello → verifyServerHello round trip.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

let dir = "";

function openssl(...args: string[]): string {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  if (r.error) throw new Error(`cannot run openssl (${r.error.message}); these tests need the openssl CLI on PATH`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function writePem(name: string, certDer: Uint8Array): string {
  const b64 = Buffer.from(certDer).toString("base64").replace(/.{64}/g, "$&\n");
  const path = join(dir, name);
  writeFileSync(path, `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`);
  return path;
}

function writeDer(name: string, certDer: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, certDer);
  return path;
}

beforeAll(() => {
  openssl("version");
  dir = mkdtempSync(join(tmpdir(), "smp-x509-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const HOST = "relay.example.com";
const OPENSSL_ALG: Record<SignatureAlgorithm, string> = { ed25519: "ED25519", ed448: "ED448" };

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

  it("openssl shows the CA's subject and extensions", async () => {
    const { caCert } = await chain();
    const text = openssl("x509", "-inform", "DER", "-in", writeDer(`ca-${alg}.der`, caCert), "-noout", "-text");
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toContain(`Signature Algorithm: ${OPENSSL_ALG[alg]}`);
    expect(text).toContain("Issuer: CN = SMP server CA, O = SimpleX");
    expect(text).toContain("Subject: CN = SMP server CA, O = SimpleX");
    expect(text).toContain("Not After : Dec 31 23:59:59 9999 GMT");
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toContain("X509v3 Subject Key Identifier");
    expect(text).toContain("X509v3 Authority Key Identifier");
  });

  it("openssl shows the online certificate's subject and extensions", async () => {
    const { onlineCert } = await chain();
    const text = openssl("x509", "-inform", "DER", "-in", writeDer(`online-${alg}.der`, onlineCert), "-noout", "-text");
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toContain("Issuer: CN = SMP server CA, O = SimpleX");
    expect(text).toContain(`Subject: CN = ${HOST}`);
    expect(text).toContain(`Public Key Algorithm: ${OPENSSL_ALG[alg]}`);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation, Key Agreement/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
    expect(text).toContain("X509v3 Subject Key Identifier");
    expect(text).toContain("X509v3 Authority Key Identifier");
  });

  it("openssl verify accepts the 2-certificate chain for TLS server use and rejects a foreign CA", async () => {
    const { caCert, onlineCert } = await chain();
    const ca = writePem(`ca-${alg}.pem`, caCert);
    const online = writePem(`online-${alg}.pem`, onlineCert);
    expect(openssl("verify", "-CAfile", ca, online)).toContain(": OK");
    // Not -x509_strict: like upstream's CA (openssl req -x509 defaults), ours has no keyUsage.
    expect(openssl("verify", "-purpose", "sslserver", "-CAfile", ca, online)).toContain(": OK");
    const other = writePem(`other-${alg}.pem`, await createCaCertificate(await generateSigningKey(alg)));
    expect(() => openssl("verify", "-CAfile", other, online)).toThrow(/failed/);
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
  it("an Ed448 CA can certify an Ed25519 online key, and openssl verifies it", async () => {
    const caKey = await generateSigningKey("ed448");
    const leafKey = await generateSigningKey("ed25519");
    const caCert = await createCaCertificate(caKey);
    const onlineCert = await createOnlineCertificate(caKey, caCert, await publicKeyOf(leafKey), HOST);
    expect(certificatePublicKey(onlineCert).alg).toBe("ed25519");
    expect(await verifyCertificateSignature(onlineCert, await publicKeyOf(caKey))).toBe(true);
    expect(openssl("verify", "-CAfile", writePem("mixed-ca.pem", caCert), writePem("mixed-online.pem", onlineCert))).toContain(": OK");
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
