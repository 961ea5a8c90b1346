// From one transmission to its reply: framing and credential checks first (WIRE.md 5.4, 5.5),
// then the command. PING and refusals are answered here; NEW creates a Queue object (newQueue.ts);
// every other queue command goes, by its entity id (routes.ts), to the Queue object that owns it
// (queue.ts).
import { decodeCommand, type ClientCommand, type ServerResponse } from "../protocol/commands.js";
import { hex, ParseError } from "../protocol/encoding.js";
import { CommandError, type ErrorCode } from "../protocol/errors.js";
import { decodeClientTransmission, transmissionForAuth, type ClientTransmission } from "../protocol/transmission.js";
import { AUTHENTICATOR_LENGTH } from "../crypto/authenticator.js";
import { sha512 } from "../crypto/hash.js";
import { decodePublicKey } from "../crypto/keys.js";
import { verifyCommand, type AuthInput } from "./auth.js";
import type { RelayConfig } from "./config.js";
import { createQueue } from "./newQueue.js";
import { QUEUE_TAGS, type ConnQueue, type QueueCall, type QueueCommand, type QueueResult } from "./queue.js";
import type { IdKind, QueueIdCodec } from "./queueIds.js";
import { entityKind, type IndexRoutes, type Route } from "./routes.js";

/** Authorization lengths the protocol knows: none, Ed25519, X25519 authenticator, Ed448. */
const AUTH_LENGTHS = new Set([0, 64, 80, 114]);
const EMPTY = new Uint8Array(0);

/** A transmission to send back: a reply (with the command's corrId) or a push (empty corrId). */
export interface Reply {
  corrId: Uint8Array;
  entityId: Uint8Array;
  response: ServerResponse;
}

/** What a Session knows and offers to the commands of one connection. */
export interface SessionContext {
  env: Env;
  /** This Session object's id: how Queue objects find the subscriber. */
  session: string;
  sessionId: Uint8Array;
  sessionPriv: Uint8Array;
  ids: QueueIdCodec;
  /** Entity ids to Queue objects, with this Session's remembered lookups. */
  routes: IndexRoutes;
  config: RelayConfig;
  /** What this connection is to the queue: subscriber, GET reader, or neither (null). */
  connOf(queue: string): ConnQueue | null;
  setConn(queue: string, entry: ConnQueue | null): void;
  /** False when subscribing to one more queue would pass MAX_SUBSCRIPTIONS. */
  canSubscribe(queue: string): boolean;
  /** Takes one NEW from the connection's rate limit (NEW_QUEUES_PER_MINUTE); false when empty. */
  takeNewQueueToken(): boolean;
}

/**
 * A transmission after parsing: either already answered, or a command to run, with the kind of
 * id its entity must be (null for NEW) and, once resolved (resolveRoute), where that id leads.
 */
export type Prepared =
  | { done: Reply; tag: string | null }
  | { done?: undefined; t: ClientTransmission; c: ClientCommand; kind: IdKind | null; route: Route | null; group: string };

/** The command's tag, for statistics (statsCounters.ts); null when the transmission or command did not parse. */
export function preparedTag(p: Prepared): string | null {
  return p.done ? p.tag : p.c.tag;
}

export interface Outcome {
  reply: Reply;
  /** Sent after all replies of the block (the MSG that follows a SOK). */
  push?: Reply;
}

function reply(t: Pick<ClientTransmission, "corrId" | "entityId">, response: ServerResponse): Reply {
  return { corrId: t.corrId, entityId: t.entityId, response };
}

function err(t: Pick<ClientTransmission, "corrId" | "entityId">, code: ErrorCode): Reply {
  return reply(t, { tag: "ERR", code });
}

/** Who may send what: authorization and entity rules checked before any queue is touched. */
function credentialError(t: ClientTransmission, c: ClientCommand): ErrorCode | null {
  const hasAuth = t.authorization.length > 0;
  const hasEntity = t.entityId.length > 0;
  switch (c.tag) {
    case "NEW":
      if (!hasAuth) return "CMD NO_AUTH";
      return hasEntity ? "CMD HAS_AUTH" : null;
    case "SEND":
      return hasEntity ? null : "CMD NO_ENTITY";
    case "PING":
    case "PRXY":
      return hasAuth || hasEntity ? "CMD HAS_AUTH" : null;
    case "LGET":
    case "PFWD":
      if (hasAuth) return "CMD HAS_AUTH";
      return hasEntity ? null : "CMD NO_ENTITY";
    default:
      return hasAuth && hasEntity ? null : "CMD NO_AUTH";
  }
}

/** Keys a command carries that must be public keys; one that is not is CMD SYNTAX (upstream parses them with the command). */
function carriedKeys(c: ClientCommand): Uint8Array[] {
  if (c.tag === "KEY" || c.tag === "SKEY" || c.tag === "LKEY") return [c.senderKey];
  if (c.tag === "RKEY") return c.recipientKeys;
  return [];
}

/**
 * Parses one transmission and settles everything that needs no queue. Its route is found next
 * (resolveRoute).
 */
export function prepare(raw: Uint8Array): Prepared {
  let t: ClientTransmission;
  try {
    t = decodeClientTransmission(raw);
  } catch (e) {
    if (e instanceof ParseError) return { done: err({ corrId: EMPTY, entityId: EMPTY }, "BLOCK"), tag: null };
    throw e;
  }
  if (!AUTH_LENGTHS.has(t.authorization.length)) return { done: err({ corrId: t.corrId, entityId: EMPTY }, "BLOCK"), tag: null };
  if (t.serviceSignature !== null) return { done: err(t, "SERVICE"), tag: null };
  let c: ClientCommand;
  try {
    c = decodeCommand(t.command);
  } catch (e) {
    if (e instanceof CommandError) return { done: err(t, `CMD ${e.code}`), tag: null };
    throw e;
  }
  // Upstream parses the keys of KEY, SKEY, LKEY and RKEY with the command: a key that is not one
  // is a syntax error, before credentials or any queue are looked at.
  const tag = c.tag;
  if (carriedKeys(c).some((k) => decodePublicKey(k) === null)) return { done: err(t, "CMD SYNTAX"), tag };
  const bad = credentialError(t, c);
  if (bad !== null) return { done: err(t, bad), tag };
  switch (c.tag) {
    case "PING":
      return { done: reply(t, { tag: "PONG" }), tag };
    case "PRXY":
      // This relay does not proxy; upstream answers a disabled proxy this way.
      return { done: err(t, "PROXY BASIC_AUTH"), tag };
    case "PFWD":
      return { done: err(t, "PROXY NO_SESSION"), tag };
    case "NKEY":
    case "NDEL":
    case "NSUB":
    case "NSUBS":
    case "SUBS":
    case "RFWD":
      // Notifier and service commands: not served by a web relay.
      return { done: err(t, "CMD PROHIBITED"), tag };
    case "NEW":
      return { t, c, kind: null, route: null, group: `new:${hex(t.corrId)}` };
    default:
      return { t, c, kind: entityKind(c.tag), route: null, group: `none:${hex(t.corrId)}` };
  }
}

/**
 * Finds where a prepared command's entity id leads (at most one index lookup). Commands for the
 * same queue then share a `group`: a block runs groups concurrently and each group in order.
 */
export async function resolveRoute(p: Prepared, routes: IndexRoutes): Promise<Prepared> {
  if (p.done || p.kind === null) return p;
  try {
    const route = await routes.route(p.kind, p.t.entityId);
    return route === null ? p : { ...p, route, group: route.queue };
  } catch (e) {
    // An index object that cannot be reached: the command fails (ERR INTERNAL), not the block.
    console.error("route lookup failed", e instanceof Error ? e.message : String(e));
    return { done: err(p.t, "INTERNAL"), tag: p.c.tag };
  }
}

/**
 * The answer to one transmission of a block refused for backpressure (more than
 * MAX_PENDING_BLOCKS waiting): ERR QUOTA with its corrId, nothing run; ERR BLOCK if it does not
 * parse. The client may send it again.
 */
export function refuseBusy(raw: Uint8Array): Reply {
  try {
    const t = decodeClientTransmission(raw);
    return err(t, "QUOTA");
  } catch (e) {
    if (e instanceof ParseError) return err({ corrId: EMPTY, entityId: EMPTY }, "BLOCK");
    throw e;
  }
}

/** Runs a prepared command. Never throws: a failure of ours is ERR INTERNAL. */
export async function execute(p: Prepared, ctx: SessionContext): Promise<Outcome> {
  if (p.done) return { reply: p.done };
  const { t, c } = p;
  try {
    const auth = await authInput(t, ctx);
    if (c.tag === "NEW") return { reply: await createQueue(t, c, auth, ctx) };
    const command = queueCommand(c);
    if (command === null || p.kind === null || p.route === null) {
      // Not an id of ours, the wrong kind of id, or an id nobody holds: AUTH, after the same
      // verification work a real queue would cost (LGET has no authorization to verify).
      if (c.tag !== "LGET") await verifyCommand(null, auth);
      return { reply: err(t, "AUTH") };
    }
    // Per-connection limit: answered before the queue is woken, like the other connection limits.
    if (command.tag === "SUB" && !ctx.canSubscribe(p.route.queue)) return { reply: err(t, "QUOTA") };
    const call: Omit<QueueCall, "conn"> = {
      command: compact(command),
      auth,
      session: ctx.session,
      entity: { kind: p.kind, id: t.entityId.slice() },
      ...(command.tag === "LSET" ? { linkIndex: linkIndexOf(command.linkId, p.route.queue, ctx.ids) } : {}),
    };
    let queue = p.route.queue;
    let r = await callQueue(queue, call, ctx);
    if (p.route.remembered && p.kind !== "rcv" && r.reply.tag === "ERR" && r.reply.code === "AUTH") {
      // A route this Session remembered may be out of date (the id was released and taken by
      // another queue): look it up once more.
      const fresh = await ctx.routes.routeAgain(p.kind, t.entityId);
      if (fresh !== null && fresh.queue !== queue) {
        queue = fresh.queue;
        r = await callQueue(queue, call, ctx);
      }
    }
    return { reply: reply(t, r.reply), ...(r.push ? { push: { corrId: EMPTY, entityId: t.entityId, response: r.push } } : {}) };
  } catch (e) {
    console.error("command failed", c.tag, e instanceof Error ? e.message : String(e));
    return { reply: err(t, "INTERNAL") };
  }
}

async function callQueue(queue: string, call: Omit<QueueCall, "conn">, ctx: SessionContext): Promise<QueueResult> {
  const r = await ctx.env.QUEUE.getByName(queue).call({ ...call, conn: ctx.connOf(queue) });
  if (r.conn !== undefined) ctx.setConn(queue, r.conn);
  return r;
}

/**
 * LSET's link id, as the Queue needs it (QueueCall.linkIndex): the index object of an id the
 * client chose; null for the queue's own sealed link id; false for an id the relay sealed for
 * anything else (such an id already routes elsewhere, so it is refused).
 */
function linkIndexOf(linkId: Uint8Array, queue: string, ids: QueueIdCodec): string | null | false {
  const sealed = ids.open(linkId);
  if (sealed === null) return ids.indexName("link", linkId);
  return sealed.kind === "link" && sealed.queue === queue ? null : false;
}

/**
 * What a Queue needs to check the authorization. Copies, not views: the fields of a parsed
 * transmission are views into the whole 16 KB block, and an RPC argument that is a view carries
 * its entire buffer. An X25519 authenticator (or none) needs only SHA-512(tForAuth).
 */
async function authInput(t: ClientTransmission, ctx: SessionContext): Promise<AuthInput> {
  const tForAuth = transmissionForAuth(ctx.sessionId, t.signed);
  const common = { authorization: t.authorization.slice(), corrId: t.corrId.slice(), sessionPriv: ctx.sessionPriv };
  if (t.authorization.length === 0 || t.authorization.length === AUTHENTICATOR_LENGTH) {
    return { ...common, tForAuth: EMPTY, tForAuthHash: await sha512(tForAuth) };
  }
  return { ...common, tForAuth };
}

/** The command with each byte field copied to its own buffer (see authInput). */
function compact<C extends QueueCommand>(c: C): C {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) out[k] = v instanceof Uint8Array ? v.slice() : v;
  return out as C;
}

const QUEUE_TAG_SET = new Set<string>(QUEUE_TAGS);

function queueCommand(c: ClientCommand): QueueCommand | null {
  return QUEUE_TAG_SET.has(c.tag) ? (c as QueueCommand) : null;
}
