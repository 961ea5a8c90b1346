// Command authorization: X25519 authenticators (what smp-web uses) and Ed25519/Ed448 signatures.
import { constantTimeEqual } from "../protocol/encoding.js";
import { sha512 } from "./hash.js";
import type { PublicKey } from "./keys.js";
import { cryptoBox, cryptoBoxOpen } from "./secretbox.js";
import { verify } from "./signing.js";
import { x25519 } from "./x25519.js";

export const AUTHENTICATOR_LENGTH = 80;

/** Authenticator nonces are the corrId, zero-padded or truncated to 24 bytes as upstream does. */
export function authNonce(corrId: Uint8Array): Uint8Array {
  const n = new Uint8Array(24);
  n.set(corrId.subarray(0, 24));
  return n;
}

/** Client side: cryptoBox(X25519(serverSessionPub, queueAuthPriv), corrId, SHA-512(tForAuth)). */
export async function makeAuthenticator(
  serverSessionPub: Uint8Array,
  queueAuthPriv: Uint8Array,
  corrId: Uint8Array,
  tForAuth: Uint8Array,
): Promise<Uint8Array> {
  return authenticatorWithSecret(await x25519(queueAuthPriv, serverSessionPub), corrId, tForAuth);
}

/**
 * The same, with X25519(queueAuthPriv, serverSessionPub) already computed: it is the same for
 * every command a connection sends with one queue key, so a client can derive it once.
 */
export async function authenticatorWithSecret(dh: Uint8Array, corrId: Uint8Array, tForAuth: Uint8Array): Promise<Uint8Array> {
  return cryptoBox(dh, authNonce(corrId), await sha512(tForAuth));
}

/**
 * Checks an authorization against the stored key. The key type and the authorization length must
 * match (80 bytes for X25519, a signature for Ed25519/Ed448). `serverSessionPriv` is this
 * connection's session key, so an authenticator from another connection never verifies.
 * An X25519 authenticator covers only SHA-512(tForAuth): given `tForAuthHash`, tForAuth is not read.
 */
export async function verifyAuthorization(
  key: PublicKey,
  authorization: Uint8Array,
  tForAuth: Uint8Array,
  corrId: Uint8Array,
  serverSessionPriv: Uint8Array | CryptoKey,
  tForAuthHash?: Uint8Array,
): Promise<boolean> {
  if (key.alg === "x25519") {
    if (authorization.length !== AUTHENTICATOR_LENGTH) return false;
    let dh: Uint8Array;
    try {
      dh = await x25519(serverSessionPriv, key.raw);
    } catch {
      return false;
    }
    const [hash, opened] = await Promise.all([tForAuthHash ?? sha512(tForAuth), Promise.resolve(cryptoBoxOpen(dh, authNonce(corrId), authorization))]);
    return opened !== null && constantTimeEqual(opened, hash);
  }
  return verify(key, tForAuth, authorization);
}
