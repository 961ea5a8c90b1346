// Ed25519 (WebCrypto) and Ed448 (@noble/curves: WebCrypto has no Ed448) signatures.
// Private keys are 32-byte (Ed25519) or 57-byte (Ed448) seeds.
import { ed448 } from "@noble/curves/ed448.js";
import { concatBytes } from "../protocol/encoding.js";
import { bs } from "./bufferSource.js";
import type { KeyAlgorithm, PublicKey } from "./keys.js";

export type SignatureAlgorithm = Exclude<KeyAlgorithm, "x25519">;

export interface SigningKey {
  alg: SignatureAlgorithm;
  seed: Uint8Array;
}

const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export const SIGNATURE_LENGTH: Record<SignatureAlgorithm, number> = { ed25519: 64, ed448: 114 };

export async function generateSigningKey(alg: SignatureAlgorithm = "ed25519"): Promise<SigningKey> {
  if (alg === "ed448") return { alg, seed: ed448.utils.randomSecretKey() };
  const k = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", k.privateKey)) as ArrayBuffer);
  return { alg, seed: pkcs8.slice(ED25519_PKCS8_PREFIX.length) };
}

function importEd25519Private(seed: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", bs(concatBytes(ED25519_PKCS8_PREFIX, seed)), { name: "Ed25519" }, true, ["sign"]);
}

export async function publicKeyOf(k: SigningKey): Promise<PublicKey> {
  if (k.alg === "ed448") return { alg: "ed448", raw: ed448.getPublicKey(k.seed) };
  // WebCrypto cannot derive a public key from raw bytes directly; the private JWK carries it.
  const jwk = await crypto.subtle.exportKey("jwk", await importEd25519Private(k.seed));
  const x = (jwk as JsonWebKey).x;
  if (!x) throw new Error("Ed25519 JWK without public part");
  const b64 = x.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return { alg: "ed25519", raw: Uint8Array.from(bin, (c) => c.charCodeAt(0)) };
}

export async function sign(k: SigningKey, msg: Uint8Array): Promise<Uint8Array> {
  if (k.alg === "ed448") return ed448.sign(msg, k.seed);
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, await importEd25519Private(k.seed), bs(msg)));
}

/** False for a wrong signature, a malformed key or a signature of the wrong length. */
export async function verify(pub: PublicKey, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (pub.alg === "x25519" || sig.length !== SIGNATURE_LENGTH[pub.alg]) return false;
  try {
    if (pub.alg === "ed448") return ed448.verify(sig, msg, pub.raw);
    const key = await crypto.subtle.importKey("raw", bs(pub.raw), { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, bs(sig), bs(msg));
  } catch {
    return false;
  }
}
