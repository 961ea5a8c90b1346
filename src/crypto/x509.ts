// X.509 v3 certificates for the relay identity: a self-signed CA ("offline") certificate and the
// online (leaf) certificate it signs, laid out as the upstream SMP relay generates them.
import { ParseError, equalBytes } from "../protocol/encoding.js";
import * as der from "./der.js";
import { sha256 } from "./hash.js";
import { decodePublicKey, encodePublicKey, type PublicKey } from "./keys.js";
import { randomBytes } from "./random.js";
import { publicKeyOf, sign, verify, type SignatureAlgorithm, type SigningKey } from "./signing.js";

export const SIGNATURE_OID: Record<SignatureAlgorithm, string> = { ed25519: "1.3.101.112", ed448: "1.3.101.113" };

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

/** Far enough in the future to never matter (RFC 5280's "no well-defined expiration"). */
const NOT_AFTER = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
const DAY_MS = 86_400_000;

export interface CertificateOptions {
  /** Positive serial, big-endian; random 16 bytes by default. */
  serial?: Uint8Array;
  /** Defaults to one day ago (tolerates client clock skew). */
  notBefore?: Date;
  /** Defaults to 9999-12-31T23:59:59Z. */
  notAfter?: Date;
}

export interface CaCertificateOptions extends CertificateOptions {
  commonName?: string;
  organization?: string;
}

export async function createCaCertificate(caKey: SigningKey, opts: CaCertificateOptions = {}): Promise<Uint8Array> {
  const pub = await publicKeyOf(caKey);
  const name = distinguishedName(opts.commonName ?? "SMP server CA", opts.organization ?? "SimpleX");
  const keyId = await keyIdentifier(pub);
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
    extension(OID.subjectKeyId, false, der.octetString(keyId)),
    extension(OID.authorityKeyId, false, der.sequence(der.tlv(0x80, keyId))),
  ];
  return signCertificate(caKey, name, name, pub, extensions, opts);
}

/** The online certificate for `host`, issued by the CA certificate whose private key is `caKey`. */
export async function createOnlineCertificate(
  caKey: SigningKey,
  caCert: Uint8Array,
  leafPublicKey: PublicKey,
  host: string,
  opts: CertificateOptions = {},
): Promise<Uint8Array> {
  if (leafPublicKey.alg === "x25519") throw new RangeError("online certificate key must be Ed25519 or Ed448");
  const caPub = await publicKeyOf(caKey);
  const tbs = tbsFields(caCert);
  const caSpki = tbs.spki.der;
  if (!equalBytes(caSpki, encodePublicKey(caPub))) throw new RangeError("CA key does not match the CA certificate");
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence()),
    // digitalSignature, nonRepudiation, keyAgreement: bits 0, 1, 4 of a 5-bit string.
    extension(OID.keyUsage, true, der.bitString(Uint8Array.of(0xc8), 3)),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
    extension(OID.subjectKeyId, false, der.octetString(await keyIdentifier(leafPublicKey))),
    extension(OID.authorityKeyId, false, der.sequence(der.tlv(0x80, await keyIdentifier(caPub)))),
  ];
  const subject = der.sequence(rdn(OID.commonName, host));
  return signCertificate(caKey, tbs.subject.der, subject, leafPublicKey, extensions, opts);
}

/**
 * The SubjectPublicKeyInfo DER, found the way smp-web finds it: optional [0] version, then skip
 * serial, signature algorithm, issuer, validity and subject; the next element is the SPKI.
 */
export function certificateSpki(certDer: Uint8Array): Uint8Array {
  return tbsFields(certDer).spki.der.slice();
}

/** The certificate's Ed25519 or Ed448 key; ParseError for any other key or a malformed certificate. */
export function certificatePublicKey(certDer: Uint8Array): PublicKey {
  const k = decodePublicKey(certificateSpki(certDer));
  if (k === null || k.alg === "x25519") throw new ParseError("certificate key is not Ed25519 or Ed448");
  return k;
}

/** Whether `certDer` is well formed and signed by `issuerPublicKey` with the matching algorithm. */
export async function verifyCertificateSignature(certDer: Uint8Array, issuerPublicKey: PublicKey): Promise<boolean> {
  if (issuerPublicKey.alg === "x25519") return false;
  try {
    const [tbs, sigAlg, sig, ...rest] = der.children(der.readSingle(certDer, der.TAG.SEQUENCE));
    if (!tbs || !sigAlg || !sig || rest.length > 0) return false;
    if (!equalBytes(sigAlg.der, algorithmIdentifier(issuerPublicKey.alg))) return false;
    return await verify(issuerPublicKey, tbs.der, der.bitStringBytes(sig));
  } catch (e) {
    if (e instanceof ParseError) return false;
    throw e;
  }
}

export function algorithmIdentifier(alg: SignatureAlgorithm): Uint8Array {
  return der.sequence(der.oid(SIGNATURE_OID[alg]));
}

// ---- internals ----

/** The subject's common name (CN), or null when it has none. Throws ParseError for a non-certificate. */
export function certificateCommonName(certDer: Uint8Array): string | null {
  for (const set of der.children(der.expectTag(tbsFields(certDer).subject, der.TAG.SEQUENCE))) {
    for (const atv of der.children(set)) {
      const [type, value] = der.children(atv);
      if (type && value && der.oidString(type) === OID.commonName) return new TextDecoder().decode(value.value);
    }
  }
  return null;
}

function tbsFields(certDer: Uint8Array): { subject: der.Tlv; spki: der.Tlv } {
  const [tbs] = der.children(der.readSingle(certDer, der.TAG.SEQUENCE));
  if (!tbs) throw new ParseError("certificate without TBSCertificate");
  const fields = der.children(der.expectTag(tbs, der.TAG.SEQUENCE));
  const i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[i + 4];
  const spki = fields[i + 5];
  if (!subject || !spki) throw new ParseError("TBSCertificate too short");
  return { subject, spki: der.expectTag(spki, der.TAG.SEQUENCE) };
}

async function signCertificate(
  issuerKey: SigningKey,
  issuer: Uint8Array,
  subject: Uint8Array,
  subjectKey: PublicKey,
  extensions: Uint8Array[],
  opts: CertificateOptions,
): Promise<Uint8Array> {
  const sigAlg = algorithmIdentifier(issuerKey.alg);
  const notBefore = opts.notBefore ?? new Date(Math.floor((Date.now() - DAY_MS) / 1000) * 1000);
  const tbs = der.sequence(
    der.explicit(0, der.integer(Uint8Array.of(2))), // v3
    der.integer(opts.serial ?? randomSerial()),
    sigAlg,
    issuer,
    der.sequence(der.x509Time(notBefore), der.x509Time(opts.notAfter ?? NOT_AFTER)),
    subject,
    encodePublicKey(subjectKey),
    der.explicit(3, der.sequence(...extensions)),
  );
  return der.sequence(tbs, sigAlg, der.bitString(await sign(issuerKey, tbs)));
}

/** 16 random bytes, top bit clear (positive) and next bit set (so always 16 bytes long). */
function randomSerial(): Uint8Array {
  const s = randomBytes(16);
  s[0] = ((s[0] as number) & 0x7f) | 0x40;
  return s;
}

function distinguishedName(commonName: string, organization: string): Uint8Array {
  return der.sequence(rdn(OID.commonName, commonName), rdn(OID.organization, organization));
}

function rdn(type: string, value: string): Uint8Array {
  return der.set(der.sequence(der.oid(type), der.utf8String(value)));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** RFC 7093 method 1: leftmost 160 bits of SHA-256 of the subjectPublicKey bits (as the vectors do). */
async function keyIdentifier(k: PublicKey): Promise<Uint8Array> {
  return (await sha256(k.raw)).slice(0, 20);
}
