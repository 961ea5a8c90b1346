// The relay identity: CA certificate (its SHA-256 is the keyHash in smp://keyHash@host), the online
// certificate and the online private key that signs every session. Pure: storage lives elsewhere.
import { base64url } from "../protocol/base64.js";
import { ParseError, equalBytes } from "../protocol/encoding.js";
import { SMP_VERSION, type ServerHello } from "../protocol/hello.js";
import { sha256 } from "../crypto/hash.js";
import { identityProof } from "../crypto/identityProof.js";
import { encodePublicKey } from "../crypto/keys.js";
import { encodeSignedSessionKey } from "../crypto/signedKey.js";
import { generateSigningKey, publicKeyOf, type SignatureAlgorithm, type SigningKey } from "../crypto/signing.js";
import { certificatePublicKey, createCaCertificate, createOnlineCertificate } from "../crypto/x509.js";

export interface RelayIdentity {
  caCert: Uint8Array;
  onlineCert: Uint8Array;
  onlineKey: SigningKey;
  /** SHA-256 of the CA certificate DER. */
  keyHash: Uint8Array;
}

/** JSON-safe form (base64url strings). The CA key is optional: the relay itself never needs it. */
export interface StoredIdentity {
  version: 1;
  caCert: string;
  onlineCert: string;
  onlineKey: { alg: SignatureAlgorithm; seed: string };
  caKey?: { alg: SignatureAlgorithm; seed: string };
}

/** Ed25519 by default (upstream defaults to Ed448): WebCrypto signs it natively in workerd. */
export async function generateIdentity(
  host: string,
  alg: SignatureAlgorithm = "ed25519",
): Promise<{ identity: RelayIdentity; caKey: SigningKey }> {
  const caKey = await generateSigningKey(alg);
  const onlineKey = await generateSigningKey(alg);
  const caCert = await createCaCertificate(caKey);
  const onlineCert = await createOnlineCertificate(caKey, caCert, await publicKeyOf(onlineKey), host);
  return { identity: { caCert, onlineCert, onlineKey, keyHash: await keyHashOf(caCert) }, caKey };
}

export function keyHashOf(caCert: Uint8Array): Promise<Uint8Array> {
  return sha256(caCert);
}

export interface HelloParams {
  sessionId: Uint8Array;
  /** Raw 32-byte X25519 public key of this connection. */
  sessionPublicKey: Uint8Array;
  /** The 32 decoded challenge bytes, or null when the client sent no valid challenge (no proof then). */
  challenge: Uint8Array | null;
}

export async function serverHelloFor(identity: RelayIdentity, p: HelloParams): Promise<ServerHello> {
  if (p.challenge !== null && p.challenge.length !== 32) throw new RangeError("challenge must be 32 bytes");
  return {
    minVersion: SMP_VERSION,
    maxVersion: SMP_VERSION,
    sessionId: p.sessionId,
    certChain: [identity.onlineCert, identity.caCert],
    signedKey: await encodeSignedSessionKey(identity.onlineKey, p.sessionPublicKey),
    identityProof: p.challenge === null ? null : await identityProof(identity.onlineKey, p.challenge, p.sessionId),
  };
}

export function serializeIdentity(identity: RelayIdentity, caKey?: SigningKey): StoredIdentity {
  const key = (k: SigningKey): { alg: SignatureAlgorithm; seed: string } => ({ alg: k.alg, seed: base64url.encode(k.seed) });
  return {
    version: 1,
    caCert: base64url.encode(identity.caCert),
    onlineCert: base64url.encode(identity.onlineCert),
    onlineKey: key(identity.onlineKey),
    ...(caKey ? { caKey: key(caKey) } : {}),
  };
}

/**
 * Validates a stored record (from storage or a secret): the shape, and that the online key is the
 * one in the online certificate. keyHash is recomputed, never trusted. Throws ParseError.
 */
export async function deserializeIdentity(record: unknown): Promise<RelayIdentity> {
  const r = record as Partial<StoredIdentity> | null;
  if (typeof r !== "object" || r === null || r.version !== 1) throw new ParseError("identity record: unknown version");
  if (typeof r.caCert !== "string" || typeof r.onlineCert !== "string") throw new ParseError("identity record: missing certificates");
  const onlineKey = signingKey(r.onlineKey);
  const caCert = base64url.decode(r.caCert);
  const onlineCert = base64url.decode(r.onlineCert);
  const certKey = certificatePublicKey(onlineCert);
  const ownKey = await publicKeyOf(onlineKey);
  if (!equalBytes(encodePublicKey(certKey), encodePublicKey(ownKey))) {
    throw new ParseError("identity record: online key does not match the online certificate");
  }
  certificatePublicKey(caCert); // well-formed, with a signature key
  return { caCert, onlineCert, onlineKey, keyHash: await keyHashOf(caCert) };
}

/** The CA key of a stored record, if it has one. */
export function storedCaKey(record: StoredIdentity): SigningKey | null {
  return record.caKey ? signingKey(record.caKey) : null;
}

const SEED_LENGTH: Record<SignatureAlgorithm, number> = { ed25519: 32, ed448: 57 };

function signingKey(k: unknown): SigningKey {
  const v = k as { alg?: unknown; seed?: unknown } | null;
  if (typeof v !== "object" || v === null || (v.alg !== "ed25519" && v.alg !== "ed448") || typeof v.seed !== "string") {
    throw new ParseError("identity record: bad key");
  }
  const seed = base64url.decode(v.seed);
  if (seed.length !== SEED_LENGTH[v.alg]) throw new ParseError("identity record: bad key length");
  return { alg: v.alg, seed };
}
