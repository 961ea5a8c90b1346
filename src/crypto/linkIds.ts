// Ids that short links derive rather than receive (WIRE.md 6.2, 6.13, 6.13a). Both sides compute
// them: a client to build NEW and to find a contact address, the relay to check NEW.
import { sha3_384 } from "@noble/hashes/sha3.js";
import { hkdfSha512 } from "./hkdf.js";

/** Length of a client-chosen sender id and of a contact link id, bytes. */
export const LINK_ENTITY_ID_LENGTH = 24;
/** Length of a short link's key, bytes. */
export const LINK_KEY_SIZE = 32;

const CONTACT_LINK_INFO = new TextEncoder().encode("SimpleXContactLink");

/**
 * The sender id a client supplies with NEW's link data: the first 24 bytes of SHA3-384(corrId)
 * of that NEW (WIRE.md 6.2, 6.13a; upstream createQueue). Binding it to the corrId stops anyone
 * probing whether some queue's id exists by trying to create one with it.
 */
export function clientSenderId(corrId: Uint8Array): Uint8Array {
  return sha3_384(corrId).slice(0, LINK_ENTITY_ID_LENGTH);
}

/**
 * A contact address's link id from its link key (WIRE.md 6.13): the first 24 bytes of
 * HKDF-SHA512(empty salt, linkKey, "SimpleXContactLink", 56). The remaining 32 bytes are the
 * clients' key for the link data, which the relay never sees. RangeError for a key that is not
 * 32 bytes.
 */
export function contactLinkId(linkKey: Uint8Array): Uint8Array {
  if (linkKey.length !== LINK_KEY_SIZE) throw new RangeError(`link key must be ${LINK_KEY_SIZE} bytes`);
  return hkdfSha512(new Uint8Array(0), linkKey, CONTACT_LINK_INFO, 56).slice(0, LINK_ENTITY_ID_LENGTH);
}
