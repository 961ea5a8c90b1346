// NEW → IDS (WIRE.md 6.2, 6.13a; upstream createQueue): checks the request and the creation
// policy, claims the ids a client chose, then sets up a fresh Queue object.
import type { NewCommand } from "../protocol/commands.js";
import { asciiBytes, constantTimeEqual, equalBytes } from "../protocol/encoding.js";
import type { ClientTransmission } from "../protocol/transmission.js";
import { verifyAuthorization } from "../crypto/authenticator.js";
import { decodePublicKey } from "../crypto/keys.js";
import { clientSenderId } from "../crypto/linkIds.js";
import type { AuthInput } from "./auth.js";
import type { Reply, SessionContext } from "./dispatch.js";
import type { CreateParams } from "./queue.js";

/**
 * Creates the queue NEW asks for and answers IDS, or the refusal: CMD SYNTAX for keys that are
 * not keys, AUTH for a bad authorization, a refused password or an id that is taken, CMD
 * PROHIBITED for notifier credentials or a sender id not derived from NEW's corrId, QUOTA past
 * the connection's limits.
 *
 * Costs: a plain NEW is one DO request (the Queue's create). With link data, each id the client
 * chose is claimed in its index object first: +1 request and +1 row written for the sender id,
 * and the same for a contact address's link id (an invitation's link id is sealed, free).
 */
export async function createQueue(t: ClientTransmission, c: NewCommand, auth: AuthInput, ctx: SessionContext): Promise<Reply> {
  const answer = (response: Reply["response"]): Reply => ({ corrId: t.corrId, entityId: t.entityId, response });
  const refuse = (code: "CMD SYNTAX" | "CMD PROHIBITED" | "AUTH" | "QUOTA"): Reply => answer({ tag: "ERR", code });
  const rcvKey = decodePublicKey(c.rcvAuthKey);
  const dhKey = decodePublicKey(c.rcvDhKey);
  if (rcvKey === null || dhKey === null || dhKey.alg !== "x25519") return refuse("CMD SYNTAX");
  // Notifier credentials are not served by a web relay.
  if (c.ntfCreds) return refuse("CMD PROHIBITED");
  const verified = await verifyAuthorization(rcvKey, auth.authorization, auth.tForAuth, auth.corrId, auth.sessionPriv, auth.tForAuthHash);
  const password = ctx.config.queuePassword;
  const allowed =
    ctx.config.allowNewQueues &&
    (password === null || (c.basicAuth !== null && constantTimeEqual(c.basicAuth, asciiBytes(password))));
  if (!verified || !allowed) return refuse("AUTH");
  const link = c.queueReqData?.link ?? null;
  // A sender id the client chose must come from this NEW's corrId: nobody can then probe whether
  // some queue's id exists by trying to create a queue with it.
  if (link !== null && !equalBytes(link.sndId, clientSenderId(t.corrId))) return refuse("CMD PROHIBITED");
  const fresh = ctx.ids.newQueue();
  const { queue, rcvId } = fresh;
  // Per-connection limits on creating queues and on holding subscriptions: ERR QUOTA.
  if ((c.subscribe && !ctx.canSubscribe(queue)) || !ctx.takeNewQueueToken()) return refuse("QUOTA");
  const mode = c.queueReqData?.mode ?? null;
  const params: CreateParams = {
    queue,
    rcvId,
    sndId: fresh.sndId,
    rcvAuthKey: c.rcvAuthKey,
    rcvDhKey: c.rcvDhKey,
    mode: mode ?? "-",
    subscriber: c.subscribe ? ctx.session : null,
    sndIndex: null,
    link: null,
  };
  const claimed: string[] = [];
  if (link !== null) {
    // A contact address's link id is the client's (from its link key); an invitation's is ours.
    const linkId = mode === "C" && link.linkId !== null ? link.linkId : fresh.linkId;
    // An id the client chose that looks like one of ours would route elsewhere: taken, as upstream
    // answers a duplicate.
    if (ctx.ids.open(link.sndId) !== null || (linkId !== fresh.linkId && ctx.ids.open(linkId) !== null)) return refuse("AUTH");
    params.sndId = link.sndId;
    params.sndIndex = ctx.ids.indexName("snd", link.sndId);
    params.link = { linkId, fixedData: link.fixedData, userData: link.userData, index: linkId === fresh.linkId ? null : ctx.ids.indexName("link", linkId) };
    const wanted = [params.sndIndex, params.link.index].filter((i): i is string => i !== null);
    const results = await Promise.allSettled(wanted.map((i) => claim(ctx, i, queue)));
    // A claim that failed may still have been made: it is given back with the others (a release
    // removes only this queue's entry, so it is safe either way).
    claimed.push(...wanted.filter((_, k) => results[k]!.status !== "fulfilled" || (results[k] as PromiseFulfilledResult<boolean>).value));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined || claimed.length < wanted.length) {
      await release(ctx, claimed, queue);
      // Taken (no retry with client-chosen ids, as upstream): AUTH. A failure of ours: thrown, INTERNAL.
      if (failed !== undefined) throw failed.reason;
      return refuse("AUTH");
    }
  }
  let created;
  try {
    created = await ctx.env.QUEUE.getByName(queue).create(params);
  } catch (e) {
    await release(ctx, claimed, queue).catch(() => {});
    throw e;
  }
  if (created.conn !== null) ctx.setConn(queue, created.conn);
  return answer({
    tag: "IDS",
    rcvId,
    sndId: params.sndId,
    srvDhKey: created.srvDhKey,
    queueMode: mode,
    linkId: params.link?.linkId ?? null,
    serviceId: null,
    serverNtfCreds: null,
  });
}

function claim(ctx: SessionContext, index: string, queue: string): Promise<boolean> {
  return ctx.env.ID_INDEX.getByName(index).claim(queue);
}

async function release(ctx: SessionContext, indexes: string[], queue: string): Promise<void> {
  await Promise.all(indexes.map((i) => ctx.env.ID_INDEX.getByName(i).release(queue)));
}
