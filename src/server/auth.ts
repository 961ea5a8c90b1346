// Verifying a command's authorization against a queue key, with the same work whether or not
// there is a key: a missing queue, a wrong id kind and a wrong key all cost one verification, so
// timing does not tell them apart.
import { verifyAuthorization } from "../crypto/authenticator.js";
import type { PublicKey } from "../crypto/keys.js";
import { generateSigningKey, publicKeyOf } from "../crypto/signing.js";
import { generateX25519 } from "../crypto/x25519.js";

/** What the Session passes along so that a Queue can check a command's authorization. */
export interface AuthInput {
  authorization: Uint8Array;
  /** ByteString(sessionId) ‖ tToSend. */
  tForAuth: Uint8Array;
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
 * True only when `key` is set and the authorization verifies against it. With no key, or an
 * authorization of a kind that does not match the key, a throwaway key of the authorization's
 * kind is verified instead and the answer is false.
 */
export async function verifyCommand(key: PublicKey | null, a: AuthInput): Promise<boolean> {
  if (key !== null && a.authorization.length > 0) {
    const ok = await verifyAuthorization(key, a.authorization, a.tForAuth, a.corrId, a.sessionPriv);
    if (ok) return true;
  }
  const d = await dummyKeys();
  const kind = a.authorization.length === 64 ? d.ed25519 : a.authorization.length === 114 ? d.ed448 : d.x25519;
  if (key === null || a.authorization.length === 0) {
    await verifyAuthorization(kind, a.authorization.length > 0 ? a.authorization : new Uint8Array(80), a.tForAuth, a.corrId, a.sessionPriv);
  }
  return false;
}

