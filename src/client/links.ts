// Short links over SMPClient (WIRE.md 6.2, 6.13, 6.13a): queues created with link data (a contact
// address, a one-time invitation), reading a link's data (LGET), securing an invitation with it
// (LKEY), replacing and removing the data (LSET, LDEL), replacing a contact queue's recipient keys
// (RKEY), and the short link that names it all.
//
// The two blobs (fixed data, set once; user data, replaceable) are opaque here as at the relay:
// encrypting them with the link key, and what they hold, is the business of the clients.
import type { ContactLinkType, ShortLinkScheme, ShortLinkServer } from "../protocol/shortLink.js";
import { formatShortLink, LINK_ID_LENGTH, relayLinkServer } from "../protocol/shortLink.js";
import type { IdsResponse, ServerResponse } from "../protocol/commands.js";
import type { RelayAddress } from "../protocol/address.js";
import { equalBytes } from "../protocol/encoding.js";
import { clientSenderId, contactLinkId, LINK_KEY_SIZE } from "../crypto/linkIds.js";
import { randomBytes } from "../crypto/random.js";
import type { X25519KeyPair } from "../crypto/x25519.js";
import { CORR_ID_LENGTH, type SMPClient } from "./client.js";
import { derX25519, expectOk, newQueue, rcvAuth, register, UnexpectedReplyError, type RecipientQueue } from "./queues.js";

/** The two blobs a link holds, each 0–65535 bytes, stored verbatim by the relay (LG, WIRE.md 6.13a). */
export interface LinkBlobs {
  /** Set once, at NEW or by the first LSET; the relay refuses to change it. */
  fixedData: Uint8Array;
  /** Replaceable with LSET. */
  userData: Uint8Array;
}

/** A link's data as LNK returns it (WIRE.md 6.13): the queue's sender id (24 bytes) and the blobs. */
export interface LinkData extends LinkBlobs {
  senderId: Uint8Array;
}

export interface CreateLinkOptions extends LinkBlobs {
  /** Subscribe this connection right away (subMode "S"); default true. */
  subscribe?: boolean;
  /** The relay's queue-creation password, if it requires one. */
  basicAuth?: string;
  /** The link key, 32 bytes (RangeError otherwise); default 32 random bytes. */
  linkKey?: Uint8Array;
}

/**
 * A contact address: a contact-mode queue whose link id is derived from its link key
 * (`linkId = contactLinkId(linkKey)`, 24 bytes). Keeps the fixed data, which LSET must repeat.
 */
export type ContactAddress = RecipientQueue & { mode: "C"; linkId: Uint8Array; linkKey: Uint8Array; fixedData: Uint8Array };

/**
 * A one-time invitation: a messaging queue whose link id (24 bytes) the relay chose. `linkKey`
 * (32 bytes) is the clients' key for the data: it goes in the short link, never to the relay.
 */
export type Invitation = RecipientQueue & { mode: "M"; linkId: Uint8Array; linkKey: Uint8Array; fixedData: Uint8Array };

/**
 * NEW with contact link data → IDS (WIRE.md 6.2, 6.13a): a contact-mode queue whose link id is
 * `contactLinkId(linkKey)` and whose sndId is `clientSenderId(corrId)` of this very NEW.
 * Returns the queue (registered for `deliveries`) with `linkId` (24 bytes), `linkKey` (32 bytes)
 * and `fixedData`. Throws RangeError for a link key that is not 32 bytes or blobs that do not fit
 * (65535 bytes each, one block in all), SMPProtocolError for ERR (e.g. `AUTH`: that link id is
 * taken, or a wrong password), UnexpectedReplyError for a reply other than IDS or an IDS that does
 * not echo mode "C", the sndId and the link id (the queue may then exist at the relay).
 */
export async function createContactAddress(client: SMPClient, opts: CreateLinkOptions): Promise<ContactAddress> {
  const linkKey = opts.linkKey ?? randomBytes(LINK_KEY_SIZE);
  const linkId = contactLinkId(linkKey);
  const { queue, ids } = await newLinkedQueue(client, opts, "C", linkId);
  const { fixedData } = opts;
  if (ids.linkId === null || !equalBytes(ids.linkId, linkId)) throw new UnexpectedReplyError("NEW", ids, "not the link id NEW asked for");
  const address: ContactAddress = { ...queue, mode: "C", linkId, linkKey, fixedData };
  register(client, address);
  return address;
}

/**
 * NEW with invitation link data → IDS (WIRE.md 6.2, 6.13a): a messaging queue whose sndId is
 * `clientSenderId(corrId)` of this NEW and whose link id the relay chooses. `linkKey` (default 32
 * random bytes) is not sent: it is returned for the short link. Returns the queue (registered for
 * `deliveries`) with `linkId` (24 bytes), `linkKey` and `fixedData`. Throws as createContactAddress,
 * and UnexpectedReplyError when IDS carries no 24-byte link id.
 */
export async function createInvitation(client: SMPClient, opts: CreateLinkOptions): Promise<Invitation> {
  const linkKey = opts.linkKey ?? randomBytes(LINK_KEY_SIZE);
  if (linkKey.length !== LINK_KEY_SIZE) throw new RangeError(`link key must be ${LINK_KEY_SIZE} bytes`);
  const { queue, ids } = await newLinkedQueue(client, opts, "M", null);
  const { fixedData } = opts;
  if (ids.linkId === null || ids.linkId.length !== LINK_ID_LENGTH) {
    throw new UnexpectedReplyError("NEW", ids, `no ${LINK_ID_LENGTH}-byte link id`);
  }
  const invitation: Invitation = { ...queue, mode: "M", linkId: ids.linkId, linkKey, fixedData };
  register(client, invitation);
  return invitation;
}

/** NEW with link data, its sender id derived from the NEW's own corrId; IDS checked to echo the mode and that sender id. */
async function newLinkedQueue(client: SMPClient, opts: CreateLinkOptions, mode: "C" | "M", linkId: Uint8Array | null): Promise<{ queue: RecipientQueue; ids: IdsResponse }> {
  const corrId = randomBytes(CORR_ID_LENGTH);
  const sndId = clientSenderId(corrId);
  const { fixedData, userData } = opts;
  const r = await newQueue(client, {
    subscribe: opts.subscribe ?? true,
    basicAuth: opts.basicAuth,
    queueReqData: { mode, link: { linkId, sndId, fixedData, userData } },
    corrId,
  });
  checkIds(r.ids, mode, sndId);
  return r;
}

function checkIds(ids: IdsResponse, mode: "C" | "M", sndId: Uint8Array): void {
  if (ids.queueMode !== mode) throw new UnexpectedReplyError("NEW", ids, `queue mode ${ids.queueMode ?? "none"}, not ${mode}`);
  if (!equalBytes(ids.sndId, sndId)) throw new UnexpectedReplyError("NEW", ids, "not the sndId NEW asked for");
}

function linkData(command: string, r: ServerResponse): LinkData {
  if (r.tag !== "LNK") throw new UnexpectedReplyError(command, r);
  return { senderId: r.sndId, fixedData: r.fixedData, userData: r.userData };
}

/**
 * LGET → LNK (WIRE.md 6.13): a contact address's data by its link id (24 bytes; for a link,
 * `contactLinkId(link.linkKey)`), unauthorized. Throws RangeError for an empty id,
 * SMPProtocolError for ERR (`AUTH`: no such link, or not a contact address), UnexpectedReplyError
 * for another reply.
 */
export async function getLinkData(client: SMPClient, linkId: Uint8Array): Promise<LinkData> {
  if (linkId.length === 0) throw new RangeError("a link id is not empty");
  return linkData("LGET", await client.command(linkId, { tag: "LGET" }));
}

/**
 * LKEY → LNK (WIRE.md 6.13a): the joining party secures an invitation's queue with its sender
 * key and gets the link data in the same step; later SENDs to `senderId` are signed with
 * `senderKey`. `linkId`: the invitation's (24 bytes, from its short link). The command carries
 * `senderKey.publicKey` as 44-byte DER and is authorized with its private key, like SKEY.
 * Throws SMPProtocolError for ERR (`AUTH`: unknown link, a contact address, or secured with
 * another key), UnexpectedReplyError for a reply other than LNK.
 */
export async function secureInvitationLink(client: SMPClient, linkId: Uint8Array, senderKey: X25519KeyPair): Promise<LinkData> {
  const r = await client.command(linkId, { tag: "LKEY", senderKey: derX25519(senderKey.publicKey) }, { x25519PrivateKey: senderKey.privateKey });
  return linkData("LKEY", r);
}

/**
 * LSET → OK (WIRE.md 6.13a): replaces the user data of the queue's link (`q.linkId`). The wire
 * repeats the fixed data, which the relay refuses to change: `data.fixedData`, else `q.fixedData`
 * (what createContactAddress/createInvitation kept). Throws Error when the queue has no linkId,
 * TypeError when neither fixed data is given, SMPProtocolError for ERR (`AUTH`: other fixed data,
 * an invitation already used, a wrong key), UnexpectedReplyError for a reply other than OK.
 */
export async function setLinkData(
  client: SMPClient,
  q: RecipientQueue & { fixedData?: Uint8Array },
  data: { fixedData?: Uint8Array; userData: Uint8Array },
): Promise<void> {
  if (q.linkId === undefined) throw new Error("setLinkData: this queue has no linkId");
  const fixedData = data.fixedData ?? q.fixedData;
  if (fixedData === undefined) throw new TypeError("setLinkData: give the link's fixedData (LSET repeats it)");
  expectOk("LSET", await client.command(q.rcvId, { tag: "LSET", linkId: q.linkId, fixedData, userData: data.userData }, rcvAuth(q)));
}

/**
 * LDEL → OK (WIRE.md 6.13a): removes the queue's link data; its link id no longer resolves (OK
 * also when there was none). `q.linkId` is kept, so setLinkData can publish the link again.
 * Throws SMPProtocolError for ERR, UnexpectedReplyError for a reply other than OK.
 */
export async function deleteLinkData(client: SMPClient, q: RecipientQueue): Promise<void> {
  expectOk("LDEL", await client.command(q.rcvId, { tag: "LDEL" }, rcvAuth(q)));
}

/**
 * RKEY → OK (WIRE.md 6.13a, contact queues): replaces the queue's recipient keys with these
 * (their public keys as 44-byte DER), authorized with the current `q.rcvAuthKey`; on OK,
 * `q.rcvAuthKey = keys[0]`, so later recipient commands sign with a key of the new list (include
 * the current key to keep it valid elsewhere). Throws RangeError for fewer than 1 or more than 255
 * keys, SMPProtocolError for ERR (`AUTH` on a messaging queue), UnexpectedReplyError for a reply
 * other than OK (the keys are then unchanged here).
 */
export async function setRecipientKeys(client: SMPClient, q: RecipientQueue, keys: readonly X25519KeyPair[]): Promise<void> {
  const first = keys[0];
  if (first === undefined || keys.length > 255) throw new RangeError(`RKEY takes 1 to 255 keys, got ${keys.length}`);
  const recipientKeys = keys.map((k) => derX25519(k.publicKey));
  expectOk("RKEY", await client.command(q.rcvId, { tag: "RKEY", recipientKeys }, rcvAuth(q)));
  q.rcvAuthKey = first;
}

/** What a short link names: a contact address by its key, or an invitation by its id and key. */
export type LinkTarget = Pick<ContactAddress, "mode" | "linkKey"> | Pick<Invitation, "mode" | "linkId" | "linkKey">;

export interface ShortLinkOptions {
  /** `https` (default: the relay's host in the URL) or `simplex` (the app-only scheme). */
  scheme?: ShortLinkScheme;
  /** For a contact address: what it stands for (path `/a`, `/g`, `/c`, `/r`); default `contact`. */
  type?: ContactLinkType;
}

/**
 * The short link of a contact address (`https://<host>/a#<linkKey>?…`) or an invitation
 * (`https://<host>/i#<linkId>/<linkKey>?…`) on `relay`: its smp:// address (parseAddress; the
 * host may carry `:port`) or a ShortLinkServer. Works on what createContactAddress and
 * createInvitation return, or on `{ mode: "C", linkKey }` / `{ mode: "M", linkId, linkKey }`.
 * Throws ShortLinkError for a key that is not 32 bytes, an invitation id that is not 24, or a bad host.
 */
export function shortLinkFor(relay: RelayAddress | ShortLinkServer, target: LinkTarget, opts: ShortLinkOptions = {}): string {
  const server = "hosts" in relay ? relay : relayLinkServer(relay);
  const scheme = opts.scheme ?? "https";
  if (target.mode === "M") {
    return formatShortLink({ mode: "invitation", scheme, server, linkId: target.linkId, linkKey: target.linkKey });
  }
  return formatShortLink({ mode: "contact", scheme, type: opts.type ?? "contact", server, linkKey: target.linkKey });
}
