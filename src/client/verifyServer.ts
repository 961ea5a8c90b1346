// Client-side check of the server hello: smp-web's four identity checks, except that a hello
// without a proof is refused (smp-web would then skip every check, keyHash included).
import { sha256 } from "../crypto/hash.js";
import { verifyIdentityProof } from "../crypto/identityProof.js";
import type { PublicKey } from "../crypto/keys.js";
import { decodeSignedSessionKey } from "../crypto/signedKey.js";
import { certificatePublicKey } from "../crypto/x509.js";
import { ParseError, constantTimeEqual } from "../protocol/encoding.js";
import type { ServerHello } from "../protocol/hello.js";

export class ServerIdentityError extends Error {
  override readonly name = "ServerIdentityError";
}

export interface VerifiedServer {
  /** Raw 32-byte X25519 server session key. */
  sessionKey: Uint8Array;
}

/** Throws ServerIdentityError unless the hello proves the server holds the identity `keyHash`. */
export async function verifyServerHello(hello: ServerHello, keyHash: Uint8Array, challenge: Uint8Array): Promise<VerifiedServer> {
  const chain = hello.certChain;
  if (chain.length < 2 || chain.length > 4) {
    throw new ServerIdentityError(`certificate chain has ${chain.length} certificates, expected 2 to 4`);
  }
  const identityCert = chain[1] as Uint8Array;
  if (!constantTimeEqual(await sha256(identityCert), keyHash)) {
    throw new ServerIdentityError("server certificate does not match the expected key hash");
  }
  if (hello.identityProof === null) throw new ServerIdentityError("server sent no identity proof");
  let leaf: PublicKey;
  try {
    leaf = certificatePublicKey(chain[0] as Uint8Array);
  } catch (e) {
    if (e instanceof ParseError) throw new ServerIdentityError(`bad online certificate: ${e.message}`);
    throw e;
  }
  if (!(await verifyIdentityProof(leaf, challenge, hello.sessionId, hello.identityProof))) {
    throw new ServerIdentityError("identity proof does not verify under the online certificate key");
  }
  const sessionKey = await decodeSignedSessionKey(hello.signedKey, leaf);
  if (sessionKey === null) throw new ServerIdentityError("signed session key does not verify under the online certificate key");
  return { sessionKey };
}
