// The server session key as an X.509-style "signed object" (WIRE.md 3.6):
// SEQUENCE { signedPart = SEQUENCE { X25519 SPKI }, AlgorithmIdentifier, BIT STRING signature }.
import { ParseError } from "../protocol/encoding.js";
import * as der from "./der.js";
import { decodePublicKey, encodePublicKey, type PublicKey } from "./keys.js";
import { sign, verify, type SigningKey } from "./signing.js";
import { algorithmIdentifier } from "./x509.js";

export async function encodeSignedSessionKey(leafKey: SigningKey, x25519Pub: Uint8Array): Promise<Uint8Array> {
  const signedPart = der.sequence(encodePublicKey({ alg: "x25519", raw: x25519Pub }));
  const sig = await sign(leafKey, signedPart);
  return der.sequence(signedPart, algorithmIdentifier(leafKey.alg), der.bitString(sig));
}

/**
 * The raw X25519 key if the signature by `leafPublicKey` verifies, else null. Like smp-web, the
 * AlgorithmIdentifier is not checked and the signed part may also be the bare SPKI.
 */
export async function decodeSignedSessionKey(signedKeyDer: Uint8Array, leafPublicKey: PublicKey): Promise<Uint8Array | null> {
  try {
    const [signedPart, , sig, ...rest] = der.children(der.readSingle(signedKeyDer, der.TAG.SEQUENCE));
    if (!signedPart || !sig || rest.length > 0) return null;
    if (!(await verify(leafPublicKey, signedPart.der, der.bitStringBytes(sig)))) return null;
    let key = decodePublicKey(signedPart.der);
    if (key === null) {
      const inner = der.children(der.expectTag(signedPart, der.TAG.SEQUENCE));
      key = inner.length === 1 && inner[0] ? decodePublicKey(inner[0].der) : null;
    }
    return key?.alg === "x25519" ? key.raw : null;
  } catch (e) {
    if (e instanceof ParseError) return null;
    throw e;
  }
}
