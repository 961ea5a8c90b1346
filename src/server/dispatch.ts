// From one transmission to its reply: framing and credential checks first (WIRE.md 5.4, 5.5),
// then the command. PING and refusals are answered here; NEW creates a Queue object; every other
// queue command is routed, by its entity id, to the Queue object that owns it (see queue.ts).
import { decodeCommand, type ClientCommand, type NewCommand, type ServerResponse } from "../protocol/commands.js";
import { asciiBytes, constantTimeEqual, hex, ParseError } from "../protocol/encoding.js";
import { CommandError, type ErrorCode } from "../protocol/errors.js";
import { decodeClientTransmission, transmissionForAuth, type ClientTransmission } from "../protocol/transmission.js";
import { AUTHENTICATOR_LENGTH, verifyAuthorization } from "../crypto/authenticator.js";
import { sha512 } from "../crypto/hash.js";
import { decodePublicKey } from "../crypto/keys.js";
import { verifyCommand, type AuthInput } from "./auth.js";
import type { RelayConfig } from "./config.js";
import { QUEUE_TAGS, type ConnQueue, type QueueCommand } from "./queue.js";
import type { IdKind, QueueIdCodec, RoutedId } from "./queueIds.js";

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
  config: RelayConfig;
  /** What this connection is to the queue: subscriber, GET reader, or neither (null). */
  connOf(queue: string): ConnQueue | null;
  setConn(queue: string, entry: ConnQueue | null): void;
  /** False when subscribing to one more queue would pass MAX_SUBSCRIPTIONS. */
  canSubscribe(queue: string): boolean;
  /** Takes one NEW from the connection's rate limit (NEW_QUEUES_PER_MINUTE); false when empty. */
  takeNewQueueToken(): boolean;
}

/** A transmission after parsing: either already answered, or a command to run. */
export type Prepared =
  | { done: Reply }
  | { done?: undefined; t: ClientTransmission; c: ClientCommand; routed: RoutedId | null; group: string };

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

/**
 * Parses one transmission and settles everything that needs no queue. Commands for the same
 * queue share a `group`: a block runs groups concurrently and each group in order.
 */
export function prepare(raw: Uint8Array, ids: QueueIdCodec): Prepared {
  let t: ClientTransmission;
  try {
    t = decodeClientTransmission(raw);
  } catch (e) {
    if (e instanceof ParseError) return { done: err({ corrId: EMPTY, entityId: EMPTY }, "BLOCK") };
    throw e;
  }
  if (!AUTH_LENGTHS.has(t.authorization.length)) return { done: err({ corrId: t.corrId, entityId: EMPTY }, "BLOCK") };
  if (t.serviceSignature !== null) return { done: err(t, "SERVICE") };
  let c: ClientCommand;
  try {
    c = decodeCommand(t.command);
  } catch (e) {
    if (e instanceof CommandError) return { done: err(t, `CMD ${e.code}`) };
    throw e;
  }
  // Upstream parses KEY's and SKEY's key with the command: a key that is not one is a syntax
  // error, before credentials or any queue are looked at.
  if ((c.tag === "KEY" || c.tag === "SKEY") && decodePublicKey(c.senderKey) === null) return { done: err(t, "CMD SYNTAX") };
  const bad = credentialError(t, c);
  if (bad !== null) return { done: err(t, bad) };
  switch (c.tag) {
    case "PING":
      return { done: reply(t, { tag: "PONG" }) };
    case "PRXY":
      // This relay does not proxy; upstream answers a disabled proxy this way.
      return { done: err(t, "PROXY BASIC_AUTH") };
    case "PFWD":
      return { done: err(t, "PROXY NO_SESSION") };
    case "NKEY":
    case "NDEL":
    case "NSUB":
    case "NSUBS":
    case "RKEY":
    case "LSET":
    case "LDEL":
    case "LKEY":
    case "SUBS":
    case "RFWD":
      // Notifier, link-management and service commands: not served by a web relay.
      return { done: err(t, "CMD PROHIBITED") };
    default: {
      const routed = t.entityId.length > 0 ? ids.open(t.entityId) : null;
      return { t, c, routed, group: routed ? routed.queue : `new:${hex(t.corrId)}` };
    }
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
    const need: IdKind = c.tag === "SEND" || c.tag === "SKEY" ? "snd" : "rcv";
    if (command === null || p.routed === null || p.routed.kind !== need) {
      // Not an id we issued, the wrong kind of id, or LGET (no links here): AUTH, after the same
      // verification work a real queue would cost.
      await verifyCommand(null, auth);
      return { reply: err(t, "AUTH") };
    }
    const queue = p.routed.queue;
    // Per-connection limit: answered before the queue is woken, like the other connection limits.
    if (command.tag === "SUB" && !ctx.canSubscribe(queue)) return { reply: err(t, "QUOTA") };
    const r = await ctx.env.QUEUE.getByName(queue).call({ command: compact(command), auth, session: ctx.session, conn: ctx.connOf(queue) });
    if (r.conn !== undefined) ctx.setConn(queue, r.conn);
    return { reply: reply(t, r.reply), ...(r.push ? { push: { corrId: EMPTY, entityId: t.entityId, response: r.push } } : {}) };
  } catch (e) {
    console.error("command failed", c.tag, e instanceof Error ? e.message : String(e));
    return { reply: err(t, "INTERNAL") };
  }
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

/** NEW: checks the creation policy and the request, then sets up a fresh Queue object. */
async function createQueue(t: ClientTransmission, c: NewCommand, auth: AuthInput, ctx: SessionContext): Promise<Reply> {
  const rcvKey = decodePublicKey(c.rcvAuthKey);
  const dhKey = decodePublicKey(c.rcvDhKey);
  if (rcvKey === null || dhKey === null || dhKey.alg !== "x25519") return err(t, "CMD SYNTAX");
  // Client-chosen sender ids (short links) and notifier credentials are not served.
  if (c.queueReqData?.link || c.ntfCreds) return err(t, "CMD PROHIBITED");
  const verified = await verifyAuthorization(rcvKey, auth.authorization, auth.tForAuth, auth.corrId, auth.sessionPriv, auth.tForAuthHash);
  const password = ctx.config.queuePassword;
  const allowed =
    ctx.config.allowNewQueues &&
    (password === null || (c.basicAuth !== null && constantTimeEqual(c.basicAuth, asciiBytes(password))));
  if (!verified || !allowed) return err(t, "AUTH");
  const { queue, rcvId, sndId } = ctx.ids.newQueue();
  // Per-connection limits on creating queues and on holding subscriptions: ERR QUOTA.
  if ((c.subscribe && !ctx.canSubscribe(queue)) || !ctx.takeNewQueueToken()) return err(t, "QUOTA");
  const mode = c.queueReqData?.mode ?? null;
  const created = await ctx.env.QUEUE.getByName(queue).create({
    queue,
    rcvId,
    sndId,
    rcvAuthKey: c.rcvAuthKey,
    rcvDhKey: c.rcvDhKey,
    mode: mode ?? "-",
    subscriber: c.subscribe ? ctx.session : null,
  });
  if (created.conn !== null) ctx.setConn(queue, created.conn);
  return reply(t, { tag: "IDS", rcvId, sndId, srvDhKey: created.srvDhKey, queueMode: mode, linkId: null, serviceId: null, serverNtfCreds: null });
}
