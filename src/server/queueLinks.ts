// A queue's short link and recipient keys (WIRE.md 6.13a; upstream Server.hs LSET/LDEL/LKEY/LGET/
// RKEY and the queue stores' addQueueLinkData, deleteQueueLinkData, getQueueLinkData,
// updateKeys). The Queue object (queue.ts) verifies the command first; these decide and write.
//
// The link's id leads to the queue either sealed (a one-time invitation's id, chosen here) or
// through an index object (an id the client chose; idIndex.ts): the record keeps that object's
// name in `link_index`, and the sender id's in `snd_index`, so each can be released.
import type { ServerResponse } from "../protocol/commands.js";
import { Decoder, Encoder, equalBytes } from "../protocol/encoding.js";
import type { LinkSetCommand } from "../protocol/linkCommands.js";
import { decodePublicKey, type PublicKey } from "../crypto/keys.js";
import type { QueueRecord, QueueStore } from "./queueStore.js";

const AUTH: ServerResponse = { tag: "ERR", code: "AUTH" };
const OK: ServerResponse = { tag: "OK" };

/** What these functions need of the Queue object: its rows, and its index objects by name. */
export interface LinkHost {
  store: QueueStore;
  /** This queue's name (its Queue object's name, as the index objects hold it). */
  queue: string;
  claimIndex(index: string): Promise<boolean>;
  releaseIndex(index: string): Promise<void>;
}

/**
 * A contact queue (upstream isContactQueue): mode C, or a queue made without a mode and never
 * secured (contact addresses made before SKEY existed). Only these answer LGET.
 */
export function isContact(q: QueueRecord): boolean {
  return q.mode === "C" || (q.mode === "-" && q.snd_key === null);
}

/** A messaging queue the sender has secured (upstream isSecuredMsgQueue): its invitation is used. */
export function isSecuredMessaging(q: QueueRecord): boolean {
  return q.mode !== "C" && q.snd_key !== null;
}

/** LNK: the sender id and the two blobs, verbatim (WIRE.md 6.13). Null when there is no link. */
export function linkReply(q: QueueRecord): ServerResponse | null {
  if (q.link_id === null || q.fixed_data === null || q.user_data === null) return null;
  return { tag: "LNK", sndId: q.snd_id, fixedData: q.fixed_data, userData: q.user_data };
}

/** The recipient keys every recipient command verifies against (any of them). */
export function recipientKeys(q: QueueRecord): PublicKey[] {
  const raw = q.rcv_keys === null ? [q.rcv_key] : decodeKeys(q.rcv_keys);
  return raw.map(decodePublicKey).filter((k): k is PublicKey => k !== null);
}

/** RKEY's keys as stored: a 1-byte count, then each key as a short ByteString. */
export function encodeKeys(keys: Uint8Array[]): Uint8Array {
  const e = new Encoder().byte(keys.length);
  for (const k of keys) e.shortBytes(k);
  return e.bytes();
}

function decodeKeys(b: Uint8Array): Uint8Array[] {
  return new Decoder(b).list((d) => d.shortBytes(), true);
}

/**
 * LSET: sets the link, or replaces its user data. Refused (AUTH) once a messaging queue is
 * secured, for another link id than the queue's, for other fixed data, and for a link id another
 * queue holds. `index`: the index object of a link id the client chose; null for this queue's
 * own sealed link id; false for an id the relay sealed for something else.
 */
export async function setLink(h: LinkHost, q: QueueRecord, c: LinkSetCommand, index: string | null | false): Promise<ServerResponse> {
  if (isSecuredMessaging(q)) return AUTH;
  if (q.link_id !== null) return replaceUserData(h, q, c);
  if (index === false) return AUTH;
  if (index !== null && !(await h.claimIndex(index))) return AUTH;
  // The claim awaited: another command may have changed the queue meanwhile.
  const now = h.store.load();
  if (now !== null && now.status !== "deleting" && now.link_id !== null && !isSecuredMessaging(now)) {
    // Another LSET set a link first: this one is then an update of it, or refused.
    const r = replaceUserData(h, now, c);
    if (index !== null && now.link_index !== index) await h.releaseIndex(index);
    return r;
  }
  if (now === null || now.status === "deleting" || isSecuredMessaging(now)) {
    if (index !== null && (now === null || now.link_index !== index)) await h.releaseIndex(index);
    return AUTH;
  }
  h.store.update({ link_id: c.linkId, fixed_data: c.fixedData, user_data: c.userData, link_index: index });
  return OK;
}

/** LSET on a queue that has a link: the same link id and fixed data, new user data; else AUTH. */
function replaceUserData(h: LinkHost, q: QueueRecord, c: LinkSetCommand): ServerResponse {
  if (q.link_id === null || !equalBytes(q.link_id, c.linkId) || q.fixed_data === null || !equalBytes(q.fixed_data, c.fixedData)) return AUTH;
  h.store.update({ user_data: c.userData });
  return OK;
}

/** LDEL: removes the link and its index entry; OK also when there was none. Throws when the release fails (nothing changed). */
export async function deleteLink(h: LinkHost, q: QueueRecord): Promise<ServerResponse> {
  if (q.link_id === null) {
    // A consumed link whose index entry is still to be released: try again now.
    await releaseStale(h);
    return OK;
  }
  // Index first: if that fails the command fails with nothing changed, and can be sent again.
  if (q.link_index !== null) await h.releaseIndex(q.link_index);
  h.store.update({ link_id: null, fixed_data: null, user_data: null, link_index: null });
  return OK;
}

/**
 * The first SEND to a secured invitation queue consumes its link (upstream sendMessage). The
 * record forgets the link at once; its index entry, if any, is released after, and stays named
 * in `link_index` until that succeeded (retried by the next SEND, LSET or DEL): until then it
 * leads to a queue that no longer holds that link id, which answers AUTH.
 */
export function consumeLink(h: LinkHost, q: QueueRecord): void {
  if (q.link_id !== null && isSecuredMessaging(q)) h.store.update({ link_id: null, fixed_data: null, user_data: null });
  if (q.link_id === null && q.link_index !== null) void releaseStale(h).catch((e: unknown) => console.error("link index release failed", e instanceof Error ? e.message : String(e)));
}

/** Releases an index entry kept in `link_index` for a link the queue no longer holds. Throws when the release fails. */
async function releaseStale(h: LinkHost): Promise<void> {
  const index = h.store.load()?.link_index ?? null;
  if (index === null || h.store.load()?.link_id !== null) return;
  await h.releaseIndex(index);
  const now = h.store.load();
  if (now !== null && now.link_id === null && now.link_index === index) h.store.update({ link_index: null });
}
