// Short-link commands (WIRE.md 6.13a, v15+): LSET, LDEL, LKEY and RKEY, their types and the
// encoding of their parameters. commands.ts frames them (tag, space) like every other command.
// Decoders throw ParseError; decodeCommand turns that into `CMD SYNTAX`.
import { type Decoder, type Encoder, ParseError } from "./encoding.js";

/** The link-management commands, in WIRE.md 6.13a order. */
export const LINK_COMMAND_TAGS = ["LSET", "LDEL", "LKEY", "RKEY"] as const;
export type LinkCommandTag = (typeof LINK_COMMAND_TAGS)[number];

/**
 * LSET (recipient; entity = rcvId): `"LSET " ‖ BS(linkId) ‖ LG(fixedData) ‖ LG(userData)`.
 * Sets or replaces the user data of the queue's link; the link id and fixed data never change.
 * linkId: 0–255 bytes (24 on upstream relays); each blob: 0–65535 bytes, opaque to the relay.
 */
export interface LinkSetCommand {
  tag: "LSET";
  linkId: Uint8Array;
  fixedData: Uint8Array;
  userData: Uint8Array;
}

/** LDEL (recipient; entity = rcvId): `"LDEL"`, no parameters. Removes the queue's link data. */
export interface LinkDeleteCommand {
  tag: "LDEL";
}

/**
 * LKEY (entity = linkId, authorized by the key it carries): `"LKEY " ‖ BS(senderKey DER)`.
 * Secures a one-time invitation queue and returns its LNK in one step. The key is kept as bytes
 * here (as for KEY/SKEY); whether it is a valid DER public key is the relay's check.
 */
export interface LinkKeyCommand {
  tag: "LKEY";
  senderKey: Uint8Array;
}

/**
 * RKEY (recipient, contact queues): `"RKEY " ‖ count ‖ BS(key DER)…`, a non-empty list with a
 * 1-byte count (1–255 keys). Replaces the queue's recipient keys.
 */
export interface RecipientKeysCommand {
  tag: "RKEY";
  recipientKeys: Uint8Array[];
}

export type LinkCommand = LinkSetCommand | LinkDeleteCommand | LinkKeyCommand | RecipientKeysCommand;

/** The link commands that carry parameters (LDEL has none). */
export type LinkCommandWithParams = Exclude<LinkCommand, LinkDeleteCommand>;

export function isLinkCommandWithParams(tag: string): tag is LinkCommandWithParams["tag"] {
  return tag === "LSET" || tag === "LKEY" || tag === "RKEY";
}

/** Reads the parameters after `"<tag> "`. The caller checks that nothing is left over. */
export function decodeLinkParams(tag: LinkCommandWithParams["tag"], d: Decoder): LinkCommandWithParams {
  switch (tag) {
    case "LSET":
      return { tag, linkId: d.shortBytes(), fixedData: d.large(), userData: d.large() };
    case "LKEY":
      return { tag, senderKey: d.shortBytes() };
    case "RKEY":
      return { tag, recipientKeys: d.list((x) => x.shortBytes(), true) };
    default:
      throw new ParseError(`not a link command: ${String(tag)}`);
  }
}

/** Writes the parameters after `"<tag> "`. RangeError for an RKEY list outside 1–255 keys or oversized fields. */
export function encodeLinkParams(e: Encoder, c: LinkCommandWithParams): void {
  switch (c.tag) {
    case "LSET":
      e.shortBytes(c.linkId).large(c.fixedData).large(c.userData);
      return;
    case "LKEY":
      e.shortBytes(c.senderKey);
      return;
    case "RKEY":
      if (c.recipientKeys.length < 1 || c.recipientKeys.length > 255) throw new RangeError("RKEY takes 1 to 255 keys");
      e.byte(c.recipientKeys.length);
      for (const k of c.recipientKeys) e.shortBytes(k);
      return;
  }
}
