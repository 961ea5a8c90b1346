// The relay identity from three secrets, for operators who keep the CA private key offline
// (`npx smp-relay identity` makes them). The relay gets the CA certificate, the online
// certificate and the online private key: never the CA's private key. Pure (WebCrypto and
// @noble only): the Worker, the CLI and `npm run dev` all use it.
import { base64, base64url } from "../protocol/base64.js";
import { ParseError, equalBytes } from "../protocol/encoding.js";
import { encodePublicKey, type PublicKey } from "../crypto/keys.js";
import { publicKeyOf, type SignatureAlgorithm, type SigningKey } from "../crypto/signing.js";
import { certificatePublicKey, verifyCertificateSignature } from "../crypto/x509.js";
import { ConfigError } from "./config.js";
import { deserializeIdentity, keyHashOf, serializeIdentity, type RelayIdentity } from "./identity.js";

export const IDENTITY_SECRETS = ["RELAY_CA_CERT", "RELAY_ONLINE_CERT", "RELAY_ONLINE_KEY"] as const;
export type IdentitySecretName = (typeof IDENTITY_SECRETS)[number];
export type IdentitySecretsEnv = Partial<Record<IdentitySecretName, string>>;
export type IdentitySecretValues = Record<IdentitySecretName, string>;

const SEED_LENGTH: Record<SignatureAlgorithm, number> = { ed25519: 32, ed448: 57 };

/** The three secret values for an identity: certificates as base64url DER, the key as "alg:seed". */
export function identitySecretValues(identity: Pick<RelayIdentity, "caCert" | "onlineCert" | "onlineKey">): IdentitySecretValues {
  return {
    RELAY_CA_CERT: base64url.encode(identity.caCert),
    RELAY_ONLINE_CERT: base64url.encode(identity.onlineCert),
    RELAY_ONLINE_KEY: encodeSigningKeySecret(identity.onlineKey),
  };
}

export function encodeSigningKeySecret(k: SigningKey): string {
  return `${k.alg}:${base64url.encode(k.seed)}`;
}

/** Empty or blank values count as unset (a deploy form may submit empty secrets). */
function valueOf(env: IdentitySecretsEnv, name: IdentitySecretName): string | null {
  const v = env[name];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : null;
}

/** Whether any of the identity secrets is set. */
export function hasIdentitySecrets(env: IdentitySecretsEnv): boolean {
  return IDENTITY_SECRETS.some((n) => valueOf(env, n) !== null);
}

/**
 * The identity the secrets describe; null when none of them is set (the relay then keeps its
 * own identity in the IdentityDO). Throws ConfigError, its message starting with the secret's
 * name, when only some are set or one is malformed or they do not belong together.
 */
export async function identityFromSecrets(env: IdentitySecretsEnv): Promise<RelayIdentity | null> {
  const present = IDENTITY_SECRETS.filter((n) => valueOf(env, n) !== null);
  if (present.length === 0) return null;
  const missing = IDENTITY_SECRETS.find((n) => valueOf(env, n) === null);
  if (missing !== undefined) {
    throw new ConfigError(
      `${missing}: not set, while ${present.join(" and ")} ${present.length > 1 ? "are" : "is"}: ` +
        "set all three identity secrets (npx smp-relay identity prints them), or none of them to let the relay keep its own identity",
    );
  }
  const caCert = decodeCertificateSecret("RELAY_CA_CERT", valueOf(env, "RELAY_CA_CERT") as string);
  const onlineCert = decodeCertificateSecret("RELAY_ONLINE_CERT", valueOf(env, "RELAY_ONLINE_CERT") as string);
  const onlineKey = decodeSigningKeySecret("RELAY_ONLINE_KEY", valueOf(env, "RELAY_ONLINE_KEY") as string);

  const caPub = certificatePublicKey(caCert);
  if (equalBytes(caCert, onlineCert)) {
    throw new ConfigError("RELAY_ONLINE_CERT: is the CA certificate; it must be the online certificate the CA issued");
  }
  if (!(await verifyCertificateSignature(caCert, caPub))) {
    throw new ConfigError(
      "RELAY_CA_CERT: not a self-signed CA certificate (is it the online certificate? RELAY_CA_CERT and RELAY_ONLINE_CERT may be swapped)",
    );
  }
  if (!(await verifyCertificateSignature(onlineCert, caPub))) {
    throw new ConfigError("RELAY_ONLINE_CERT: not issued by RELAY_CA_CERT (its signature does not verify under the CA's key)");
  }
  const ownPub = await publicKeyOf(onlineKey);
  if (samePublicKey(ownPub, caPub)) {
    throw new ConfigError("RELAY_ONLINE_KEY: is the CA's private key; the relay takes the online key only (keep the CA key offline)");
  }
  if (!samePublicKey(ownPub, certificatePublicKey(onlineCert))) {
    throw new ConfigError("RELAY_ONLINE_KEY: does not match RELAY_ONLINE_CERT (it is not the key the online certificate was issued for)");
  }
  try {
    // The same validation as a stored record; keyHash is recomputed from the CA certificate.
    return await deserializeIdentity(serializeIdentity({ caCert, onlineCert, onlineKey, keyHash: await keyHashOf(caCert) }));
  } catch (e) {
    if (e instanceof ParseError) throw new ConfigError(`RELAY_ONLINE_KEY: ${e.message}`);
    throw e;
  }
}

function samePublicKey(a: PublicKey, b: PublicKey): boolean {
  return equalBytes(encodePublicKey(a), encodePublicKey(b));
}

function rejectQuoted(name: string, value: string): void {
  if (/^["'`]/.test(value)) throw new ConfigError(`${name}: starts with a quote; set the value without quotes`);
}

/**
 * A certificate from a secret: base64url DER (what the CLI prints), standard base64 DER, or a
 * PEM CERTIFICATE block. The certificate must carry an Ed25519 or Ed448 key.
 */
export function decodeCertificateSecret(name: string, value: string): Uint8Array {
  const v = value.trim();
  rejectQuoted(name, v);
  let der: Uint8Array;
  if (v.includes("-----BEGIN")) {
    const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(v);
    if (!m) throw new ConfigError(`${name}: a PEM block without its matching END line`);
    if (m[1] !== "CERTIFICATE") throw new ConfigError(`${name}: a PEM ${m[1]} block, expected a CERTIFICATE`);
    try {
      der = base64.decode((m[2] as string).replace(/\s+/g, ""));
    } catch (e) {
      throw new ConfigError(`${name}: the PEM block is not base64 (${(e as Error).message})`);
    }
  } else {
    const compact = v.replace(/\s+/g, "");
    try {
      der = /[+/=]/.test(compact) ? base64.decode(compact) : base64url.decode(compact);
    } catch (e) {
      throw new ConfigError(`${name}: not base64url DER or a PEM certificate (${(e as Error).message})`);
    }
  }
  try {
    certificatePublicKey(der);
  } catch (e) {
    if (e instanceof ParseError) {
      throw new ConfigError(`${name}: not an X.509 certificate with an Ed25519 or Ed448 key (${e.message})`);
    }
    throw e;
  }
  return der;
}

/** A private key from a secret: "ed25519:<base64url 32-byte seed>" or "ed448:<base64url 57-byte seed>". */
export function decodeSigningKeySecret(name: string, value: string): SigningKey {
  const v = value.trim();
  rejectQuoted(name, v);
  const expected = 'expected "ed25519:<base64url seed>" or "ed448:<base64url seed>", as npx smp-relay identity prints it';
  if (v.includes("-----BEGIN")) throw new ConfigError(`${name}: a PEM block; ${expected}`);
  const m = /^([A-Za-z0-9]+):(.*)$/s.exec(v);
  if (!m) throw new ConfigError(`${name}: no algorithm prefix; ${expected}`);
  const alg = (m[1] as string).toLowerCase();
  if (alg !== "ed25519" && alg !== "ed448") throw new ConfigError(`${name}: unknown algorithm "${m[1]}"; ${expected}`);
  let seed: Uint8Array;
  try {
    seed = base64url.decode((m[2] as string).trim());
  } catch (e) {
    throw new ConfigError(`${name}: the seed is not base64url (${(e as Error).message})`);
  }
  if (seed.length !== SEED_LENGTH[alg]) {
    throw new ConfigError(`${name}: an ${alg} seed is ${SEED_LENGTH[alg]} bytes, this one is ${seed.length}`);
  }
  return { alg, seed };
}

/**
 * The secret that seals queue ids (queueIds.ts), when the operator keeps it as a secret of its
 * own instead of letting the Identity object make and keep it: 32 bytes, base64url (standard
 * base64 is accepted too). `npx smp-relay identity --routing-key` prints a fresh one.
 */
export const ROUTING_KEY_SECRET = "RELAY_ROUTING_KEY";
export type RoutingKeySecretEnv = Partial<Record<typeof ROUTING_KEY_SECRET, string>>;

/** The routing key the secret gives; null when it is unset or blank. Throws ConfigError naming it. */
export function routingKeyFromSecret(env: RoutingKeySecretEnv): Uint8Array | null {
  const raw = env[ROUTING_KEY_SECRET];
  if (typeof raw !== "string" || raw.trim() === "") return null;
  const v = raw.trim();
  rejectQuoted(ROUTING_KEY_SECRET, v);
  let key: Uint8Array;
  try {
    key = /[+/=]/.test(v) ? base64.decode(v) : base64url.decode(v);
  } catch (e) {
    throw new ConfigError(`${ROUTING_KEY_SECRET}: not base64url (${(e as Error).message}); npx smp-relay identity --routing-key prints one`);
  }
  if (key.length !== 32) {
    throw new ConfigError(`${ROUTING_KEY_SECRET}: must be 32 bytes, this one is ${key.length}; npx smp-relay identity --routing-key prints one`);
  }
  return key;
}

/** The value of a RELAY_ROUTING_KEY secret for a key. */
export function encodeRoutingKeySecret(key: Uint8Array): string {
  if (key.length !== 32) throw new RangeError("routing key must be 32 bytes");
  return base64url.encode(key);
}
