// The web identity proof (WIRE.md 3.7): the online key signs challenge ‖ sessionId, raw, without
// length prefixes, which binds this session to the certificate chain.
import { concatBytes } from "../protocol/encoding.js";
import type { PublicKey } from "./keys.js";
import { sign, verify, type SigningKey } from "./signing.js";

export function identityProof(leafKey: SigningKey, challenge: Uint8Array, sessionId: Uint8Array): Promise<Uint8Array> {
  return sign(leafKey, concatBytes(challenge, sessionId));
}

export function verifyIdentityProof(
  leafPublicKey: PublicKey,
  challenge: Uint8Array,
  sessionId: Uint8Array,
  proof: Uint8Array,
): Promise<boolean> {
  return verify(leafPublicKey, concatBytes(challenge, sessionId), proof);
}
