// Verifying a command's authorization against a queue key, with the same work whether or not
// there is a key: a missing queue, a wrong id kind and a wrong key all cost one verification, so
// timing does not tell them apart.
import { verifyAuthorization } from "../crypto/authenticator.js";
import type { PublicKey } from "../crypto/keys.js";
import { generateSigningKey, publicKeyOf } from "../crypto/signing.js";
import { generateX25519, importX25519Private } from "../crypto/x25519.js";
import { hex } from "../protocol/encoding.js";

/** What the Session passes along so that a Queue can check a command's authorization. */
export interface AuthInput {
  authorization: Uint8Array;
  /** ByteString(sessionId) ‖ tToSend; empty when tForAuthHash is given. */
  tForAuth: Uint8Array;
  /**
   * SHA-512 of tForAuth, in its place when the authorization is an X25519 authenticator or none
   * (both verify only the hash): a Queue call then carries 64 bytes instead of a 16 KB block.
   */
  tForAuthHash?: Uint8Array;
  corrId: Uint8Array;
  /** The connection's X25519 session key: X25519 authenticators are bound to it. */
  sessionPriv: Uint8Array;
}

let dummies: Promise<Record<"x25519" | "ed25519" | "ed448", PublicKey>> | null = null;

function dummyKeys(): Promise<Record<"x25519" | "ed25519" | "ed448", PublicKey>> {
  dummies ??= (async () => ({
    x25519: { alg: "x25519" as const, raw: (await generateX25519()).publicKey },
    ed25519: await publicKeyOf(await generateSigningKey("ed25519")),
    ed448: await publicKeyOf(await generateSigningKey("ed448")),
  }))();
  return dummies;
}

/**
 * Imported session keys, by their raw bytes: every X25519 authenticator of a connection is
 * checked with its session key, and importing it (PKCS#8) cost more than the X25519 itself.
 * Both the real and the throwaway verification use the session key, so this keeps their work
 * equal. Bounded; the oldest entry goes first.
 */
const sessionKeys = new Map<string, Promise<CryptoKey>>();
const SESSION_KEYS_MAX = 512;

function sessionKey(raw: Uint8Array): Promise<CryptoKey> {
  const id = hex(raw);
  let k = sessionKeys.get(id);
  if (k === undefined) {
    k = importX25519Private(raw);
    // A key that fails to import is not kept: the next call fails the same way.
    k.catch(() => sessionKeys.delete(id));
    if (sessionKeys.size >= SESSION_KEYS_MAX) sessionKeys.delete(sessionKeys.keys().next().value as string);
    sessionKeys.set(id, k);
  }
  return k;
}

/** The key kind an authorization of this length belongs to; null for none (length 0). */
function authKind(length: number): "x25519" | "ed25519" | "ed448" | null {
  if (length === 80) return "x25519";
  if (length === 64) return "ed25519";
  if (length === 114) return "ed448";
  return null;
}

/**
 * True only when `key` is set and the authorization verifies against it. With no key, no
 * authorization, or an authorization of another kind than the key, a throwaway key of the
 * authorization's kind is verified instead and the answer is false: the same work either way.
 */
export async function verifyCommand(key: PublicKey | null, a: AuthInput): Promise<boolean> {
  const kind = authKind(a.authorization.length);
  // (A session key that does not import fails inside verifyAuthorization instead: false.)
  const priv = kind === null || kind === "x25519" ? await sessionKey(a.sessionPriv).catch(() => a.sessionPriv) : a.sessionPriv;
  if (key !== null && kind === key.alg) {
    return verifyAuthorization(key, a.authorization, a.tForAuth, a.corrId, priv, a.tForAuthHash);
  }
  const d = await dummyKeys();
  const authorization = kind === null ? new Uint8Array(80) : a.authorization;
  await verifyAuthorization(d[kind ?? "x25519"], authorization, a.tForAuth, a.corrId, priv, a.tForAuthHash);
  return false;
}

/**
 * verifyCommand against a list of keys (a contact queue's recipient keys after RKEY; WIRE.md
 * 6.13a, upstream verifiedWithKeys): true when any verifies. A list with no key of the
 * authorization's kind costs one throwaway verification, as a missing key does; otherwise one
 * verification per key of that kind, at most.
 */
export async function verifyAny(keys: PublicKey[], a: AuthInput): Promise<boolean> {
  // Only keys of the authorization's own kind can verify it: trying the others too would let a
  // wrong signature cost one verification per key (up to 255 after RKEY) instead of one.
  const kind = authKind(a.authorization.length);
  const candidates = keys.filter((k) => k.alg === kind);
  if (candidates.length === 0) return verifyCommand(null, a);
  for (const k of candidates) if (await verifyCommand(k, a)) return true;
  return false;
}
