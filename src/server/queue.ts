// QueueDO: one Durable Object per SMP queue. It holds the queue record (keys, per-queue DH
// secret, status, subscriber), the pending messages (already encrypted for the recipient) and
// an alarm for their expiry (rows in queueStore.ts). Sessions call it over RPC, one call per
// command; it pushes MSG, END and DELD back to the subscriber's Session by its object id.
//
// Delivery follows upstream's server (Server.hs: subscribeQueue, getMessage, acknowledgeMsg,
// sendMessage/tryDeliverMessage; WIRE.md 6.3-6.12, 8). What a connection was given is state of
// that (queue, connection) pair: the subscriber's delivered message lives here (one subscriber
// at a time), a GET reader's in its own Session, passed in with each call (`conn`). ACK is
// judged against that delivered message, never against the head of the queue.
//
// Every SUB starts a new subscription generation (`sub_gen`). Pushes carry it, and a Session
// ignores a push for an older generation than the one it holds: an END from an earlier takeover
// that arrives after a newer SUB must not cancel it.
import { DurableObject } from "cloudflare:workers";
import type { ClientCommand, ServerResponse } from "../protocol/commands.js";
import { asciiBytes, concatBytes, equalBytes, Encoder } from "../protocol/encoding.js";
import { pad } from "../protocol/padding.js";
import { encodePublicKey } from "../crypto/keys.js";
import { randomBytes } from "../crypto/random.js";
import { cryptoBox } from "../crypto/secretbox.js";
import { generateX25519, x25519 } from "../crypto/x25519.js";
import { verifyAny, type AuthInput } from "./auth.js";
import type { ConnQueue } from "./connEntries.js";
import { readConfig, type RelayConfig } from "./config.js";
import { recordStats } from "./stats.js";
import { metrics } from "./metrics.js";
import type { IdKind } from "./queueIds.js";
import { consumeLink, deleteLink, encodeKeys, isContact, linkReply, setLink, type LinkHost } from "./queueLinks.js";
import { verificationKeys } from "./queueAuth.js";
import { queueInfo } from "./queueInfo.js";
import { QueueStore, type MessageRow, type QueueRecord } from "./queueStore.js";
import { startLibsodium } from "./sodium.js";

/** Largest SEND body (v11+), bytes. */
export const MAX_BODY = 16048;
/** Padded size of a delivered message plaintext, bytes; 16122 once encrypted (WIRE.md 7). */
const MSG_PADDED = 16106;
/** When the alarm finishes a DEL whose index releases failed, ms after the failure. */
const DELETE_RETRY_MS = 2000;
/** Waits before trying a failed push again, ms: about 10 s in all, then the subscriber is dropped. */
const PUSH_RETRY_MS = [100, 400, 1500, 3000, 5000];

export type { ConnQueue };

/** The commands a Queue object serves: the protocol's own command types, not copies of them. */
export const QUEUE_TAGS = ["SUB", "KEY", "SKEY", "SEND", "ACK", "GET", "OFF", "DEL", "QUE", "LSET", "LDEL", "LKEY", "LGET", "RKEY"] as const;
export type QueueCommand = Extract<ClientCommand, { tag: (typeof QUEUE_TAGS)[number] }>;

export interface QueueCall {
  command: QueueCommand;
  auth: AuthInput;
  /** The calling Session object's id: the subscriber identity. */
  session: string;
  /** What the calling connection is to this queue. */
  conn: ConnQueue | null;
  /** The id the command named: the queue answers only if it is still this queue's id of that kind. */
  entity: { kind: IdKind; id: Uint8Array };
  /** LSET: the index object of its link id; null when the relay sealed that id for this queue; false when it sealed it for something else. */
  linkIndex?: string | null | false;
}

/** The id the operator named a queue by: its recipient id or its sender id. */
export interface AdminEntity {
  kind: "rcv" | "snd";
  id: Uint8Array;
}

export interface QueueResult {
  reply: ServerResponse;
  /** A MSG to push after the replies of the block (SUB with a pending message). */
  push?: ServerResponse;
  /** What the calling connection is to this queue now; undefined when unchanged. */
  conn?: ConnQueue | null;
}

export interface CreateParams {
  /** This object's name (the queue key), kept so pushes can say which queue they are for. */
  queue: string;
  rcvId: Uint8Array;
  sndId: Uint8Array;
  rcvAuthKey: Uint8Array;
  rcvDhKey: Uint8Array;
  /** "M" (messaging: the sender may secure it with SKEY), "C" (contact), "-" (not given). */
  mode: "M" | "C" | "-";
  /** Session id to subscribe right away, or null. */
  subscriber: string | null;
  /** The index object of a sender id the client chose (idIndex.ts); null when the relay chose it. */
  sndIndex: string | null;
  /** NEW's link data (WIRE.md 6.13a), with the index object of a client-chosen link id. */
  link: { linkId: Uint8Array; fixedData: Uint8Array; userData: Uint8Array; index: string | null } | null;
}

export interface Created {
  /** The server's DH public key (DER) for IDS. */
  srvDhKey: Uint8Array;
  /** The creating connection's entry when NEW subscribed it. */
  conn: ConnQueue | null;
}

const AUTH: QueueResult = { reply: { tag: "ERR", code: "AUTH" } };
/** A queue the operator blocked (admin.ts): the code as upstream spells it (WIRE.md 6.16). */
const BLOCKED = (q: Pick<QueueRecord, "blocked">): QueueResult => ({ reply: { tag: "ERR", code: `BLOCKED ${q.blocked ?? ""}` } });
/**
 * What a blocked queue still serves (upstream processCommand: every command but these goes through
 * withQueue, which answers BLOCKED): the recipient may still turn it off or delete it, and SEND
 * answers BLOCKED itself, after its length check.
 */
const SERVED_WHEN_BLOCKED = new Set<string>(["OFF", "DEL", "SEND"]);
const OK: ServerResponse = { tag: "OK" };
const err = (code: "NO_MSG" | "QUOTA" | "LARGE_MSG" | "CMD PROHIBITED"): QueueResult => ({ reply: { tag: "ERR", code } });

export class QueueDO extends DurableObject<Env> {
  private readonly store: QueueStore;
  private configCache: RelayConfig | undefined;
  /** The alarm as last read or set (ms), while awake. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void startLibsodium(); // secretbox on libsodium from the first event on (sodium.ts)
    this.store = new QueueStore(ctx.storage.sql);
  }

  /** Read on first use, not in the constructor: a bad var fails a call, never the object. */
  private get config(): RelayConfig {
    return (this.configCache ??= readConfig(this.env as unknown as Record<string, string>));
  }

  // ---- RPC: creation ----

  /** NEW: stores the record; throws on a queue key that is already taken (never expected). */
  async create(p: CreateParams): Promise<Created> {
    metrics.rpc.queueCreate++;
    const kp = await generateX25519();
    const dhSecret = await x25519(kp.privateKey, p.rcvDhKey.subarray(12));
    if (this.store.load() !== null) throw new Error("queue key collision");
    this.store.create({
      name: p.queue,
      rcvId: p.rcvId,
      sndId: p.sndId,
      rcvKey: p.rcvAuthKey,
      dhSecret,
      mode: p.mode,
      subscriber: p.subscriber,
      sndIndex: p.sndIndex,
      link: p.link,
    });
    return { srvDhKey: encodePublicKey({ alg: "x25519", raw: kp.publicKey }), conn: p.subscriber === null ? null : { mode: "sub", gen: 1 } };
  }

  // ---- RPC: commands ----

  /** Verifies the command's authorization, then runs it. Every failure of identity is AUTH. */
  async call(c: QueueCall): Promise<QueueResult> {
    metrics.rpc.queueCall++;
    const q = this.named(c.entity);
    const cmd = c.command;
    // LGET carries no authorization (WIRE.md 6.13): nothing to verify, for a real link or not.
    if (cmd.tag === "LGET") {
      if (q !== null && q.blocked !== null) return BLOCKED(q);
      const lnk = q !== null && isContact(q) ? linkReply(q) : null;
      return lnk === null ? AUTH : { reply: lnk };
    }
    const unsignedSend = cmd.tag === "SEND" && q !== null && q.snd_key === null && c.auth.authorization.length === 0;
    if (!unsignedSend && !(await verifyAny(q === null ? [] : verificationKeys(q, c.command), c.auth))) return AUTH;
    // The await above lets other calls in: read the record again before acting on it.
    const rec = this.named(c.entity);
    if (rec === null) return AUTH;
    if (rec.blocked !== null && !SERVED_WHEN_BLOCKED.has(cmd.tag)) return BLOCKED(rec);
    // One clock for the whole command: expiry judged twice must agree with itself.
    const now = Date.now();
    switch (cmd.tag) {
      case "SUB":
        return this.subscribe(rec, c, now);
      case "KEY":
      case "SKEY":
        return this.secure(rec, cmd.senderKey);
      case "SEND":
        return this.send(rec, cmd.notify, cmd.body, now);
      case "ACK":
        return this.ack(rec, c, cmd.msgId, now);
      case "GET":
        return this.get(c, now);
      case "OFF":
        this.store.update({ status: "off" });
        return { reply: OK };
      case "DEL":
        return await this.delete(rec, c.session);
      case "QUE":
        return { reply: queueInfo(rec, c.conn, c.session, this.head(false, now), this.store.messageCount()) };
      case "LSET":
        return { reply: await setLink(this.links(rec), rec, cmd, c.linkIndex === undefined ? false : c.linkIndex) };
      case "LDEL":
        return { reply: await deleteLink(this.links(rec), rec) };
      case "LKEY": {
        // Secure and read in one step (upstream LKEY: secureQueue_ then getQueueLink_).
        const secured = this.secure(rec, cmd.senderKey);
        const lnk = linkReply(rec);
        return secured.reply.tag === "OK" && lnk !== null ? { reply: lnk } : AUTH;
      }
      case "RKEY":
        if (rec.mode !== "C") return AUTH;
        this.store.update({ rcv_keys: encodeKeys(cmd.recipientKeys) });
        return { reply: OK };
    }
  }

  /**
   * The record, when the id the command named is still this queue's id of that kind: a link id
   * (through a stale index entry, say) that the queue no longer holds finds nothing.
   */
  private named(entity: QueueCall["entity"]): QueueRecord | null {
    const q = this.store.load();
    // A queue whose DEL has begun is gone for every command (see delete).
    if (q === null || q.status === "deleting") return null;
    const { kind, id } = entity;
    const own = kind === "rcv" ? q.rcv_id : kind === "snd" ? q.snd_id : q.link_id;
    return own !== null && equalBytes(own, id) ? q : null;
  }

  /** What the link functions (queueLinks.ts) need of this object. */
  private links(q: Pick<QueueRecord, "name">): LinkHost {
    // The name is taken now: a DEL while a claim is on its way leaves no record to read it from,
    // and the claim must still be given back under it.
    const queue = q.name;
    return {
      store: this.store,
      queue,
      claimIndex: (index) => this.env.ID_INDEX.getByName(index).claim(queue),
      releaseIndex: (index) => this.env.ID_INDEX.getByName(index).release(queue),
    };
  }

  /**
   * SUB (WIRE.md 6.3; upstream subscribeQueue): a new subscription generation held by this
   * connection, END to the one it replaces, and the head delivered afresh after SOK.
   */
  private subscribe(q: QueueRecord, c: QueueCall, now: number): QueueResult {
    if (c.conn?.mode === "get") return err("CMD PROHIBITED");
    // Expire first: what expires now was given to the previous subscription, not to this one.
    const head = this.head(true, now);
    const previous = q.subscriber;
    const previousGen = q.sub_gen;
    const gen = previousGen + 1;
    this.store.update({ subscriber: c.session, sub_gen: gen, delivered: null });
    if (previous !== null && previous !== c.session) this.pushTo(previous, previousGen, q, { tag: "END" });
    return { reply: { tag: "SOK", serviceId: null }, ...(head ? { push: msg(head) } : {}), conn: { mode: "sub", gen } };
  }

  /** KEY, SKEY: the key was checked to be one when the command was parsed (dispatch.ts prepare). */
  private secure(q: QueueRecord, senderKey: Uint8Array): QueueResult {
    if (q.snd_key === null) this.store.update({ snd_key: senderKey.slice() });
    else if (!equalBytes(q.snd_key, senderKey)) return AUTH;
    return { reply: OK };
  }

  /**
   * SEND (WIRE.md 6.6; upstream sendMessage and the message store's writeMsg): stored, or a quota
   * marker and QUOTA. Pushed at once only when the queue was empty and the subscriber holds no
   * delivered message.
   */
  private send(q: QueueRecord, notify: boolean, body: Uint8Array, now: number): QueueResult {
    // Upstream checks the length before the status (sendMessage).
    if (body.length > MAX_BODY) return err("LARGE_MSG");
    if (q.blocked !== null) return BLOCKED(q);
    if (q.status !== "active") return AUTH;
    // The first message to a secured invitation consumes its link (WIRE.md 6.13a). Most queues
    // have no link: nothing to build on their SENDs.
    if (q.link_id !== null || q.link_index !== null) consumeLink(this.links(q), q);
    const quota = this.config.queueQuota;
    let count = this.store.messageCount();
    // Upstream expires before writing; only the quota decision can tell the difference.
    if (count > 0 && (!q.can_write || count >= quota)) {
      this.head(false, now);
      count = this.store.messageCount();
    }
    // After a quota marker, writing resumes only once the queue has been emptied.
    if (!q.can_write && count > 0) return err("QUOTA");
    const ts = Math.floor(now / 1000);
    if (count >= quota) {
      this.store.update({ can_write: 0 });
      this.insert(q, ts, now, concatBytes(asciiBytes("QUOTA "), int64(ts)), true);
      return err("QUOTA");
    }
    this.store.update({ can_write: 1 });
    const row = this.insert(q, ts, now, concatBytes(int64(ts), asciiBytes(notify ? "T " : "F "), body), false);
    if (count === 0 && q.subscriber !== null && q.delivered === null) this.pushTo(q.subscriber, q.sub_gen, q, msg(row));
    return { reply: OK };
  }

  /**
   * ACK (WIRE.md 6.8; upstream acknowledgeMsg, tryDelMsg, tryDelPeekMsg). Judged against the
   * message this connection was given; the head is deleted only when it is that message.
   */
  private ack(q: QueueRecord, c: QueueCall, msgId: Uint8Array, now: number): QueueResult {
    const conn = c.conn;
    if (conn === null) return err("NO_MSG");
    if (conn.mode === "get") {
      if (!names(msgId, conn.delivered)) return err("NO_MSG");
      const head = this.head(false, now);
      if (head !== null && equalBytes(head.msg_id, msgId)) this.deleteHead(q, head, true);
      return { reply: OK, conn: { mode: "get", delivered: null } };
    }
    // Taken over by another connection (its END may still be on the way): nothing delivered here.
    if (q.subscriber !== c.session || q.sub_gen !== conn.gen) return err("NO_MSG");
    const head = this.head(false, now);
    if (!names(msgId, q.delivered ?? head?.msg_id ?? null)) return err("NO_MSG");
    if (head !== null && equalBytes(head.msg_id, msgId)) this.deleteHead(q, head, false);
    // From here the subscriber's delivered message is the head again (or none).
    this.store.update({ delivered: null });
    const next = this.store.messageCount() > 0 ? this.head(true, now) : null;
    return { reply: next ? msg(next) : OK };
  }

  /** GET (WIRE.md 6.9; upstream getMessage): the head, now this reader's delivered message. */
  private get(c: QueueCall, now: number): QueueResult {
    if (c.conn?.mode === "sub") return err("CMD PROHIBITED");
    const head = this.head(true, now);
    return { reply: head ? msg(head) : OK, conn: { mode: "get", delivered: head?.msg_id ?? null } };
  }

  /**
   * DEL (WIRE.md 6.10): the queue's index entries are released, DELD goes to another connection's
   * subscription, then the object's storage goes. A queue with index entries is marked
   * "deleting" first: from then on every command finds no queue, and if a release fails (the
   * reply is then ERR INTERNAL) the alarm finishes the deletion, so an id never outlives its
   * queue nor a queue its ids.
   */
  private async delete(before: QueueRecord, session: string | null): Promise<QueueResult> {
    if (before.snd_index !== null || before.link_index !== null) this.store.update({ status: "deleting" });
    try {
      await this.releaseIndexes(before.name);
    } catch (e) {
      this.alarmAt = Date.now() + DELETE_RETRY_MS;
      await this.ctx.storage.setAlarm(this.alarmAt);
      throw e;
    }
    await this.wipe(session);
    return { reply: OK, conn: null };
  }

  /**
   * Releases the queue's index entries, until the record names none it has not released: an
   * LSET whose claim was under way when DEL began may add one during an await.
   */
  private async releaseIndexes(name: string): Promise<void> {
    const links = this.links({ name });
    const released = new Set<string>();
    for (;;) {
      const q = this.store.load();
      if (q === null) return;
      const pending = [q.snd_index, q.link_index].filter((i): i is string => i !== null && !released.has(i));
      if (pending.length === 0) return;
      await Promise.all(pending.map((i) => links.releaseIndex(i)));
      for (const i of pending) released.add(i);
    }
  }

  /** The end of DEL: DELD to a subscriber other than `session`, then all storage, alarm included. */
  private async wipe(session: string | null): Promise<void> {
    // No await from this read to deleteAll: nothing can change the queue in between.
    const q = this.store.load();
    if (q === null) return;
    if (q.subscriber !== null && q.subscriber !== session) this.pushTo(q.subscriber, q.sub_gen, q, { tag: "DELD" });
    this.store.forget(true);
    // Frees the object's storage entirely, alarm included (compatibility date ≥ 2026-02-24).
    await this.ctx.storage.deleteAll();
    this.store.forget(true);
    this.alarmAt = null;
  }

  // ---- RPC: the operator (admin.ts), behind the admin token: no client authorization ----

  /**
   * Blocks the queue (`info`: the code's text after "BLOCKED ", errors.ts blockedCode), or
   * unblocks it (null). Messages stay; a block given again replaces the first. False when `entity`
   * is not (or no longer) this queue's id of its kind: the admin API answers 404.
   */
  async adminBlock(entity: AdminEntity, info: string | null): Promise<boolean> {
    metrics.rpc.queueCall++;
    const q = this.named(entity);
    if (q === null) return false;
    this.store.update({ blocked: info });
    return true;
  }

  /** Deletes the queue as its recipient's DEL does (index entries released, DELD to a subscriber). False as adminBlock. */
  async adminDelete(entity: AdminEntity): Promise<boolean> {
    metrics.rpc.queueCall++;
    const q = this.named(entity);
    if (q === null) return false;
    await this.delete(q, null);
    return true;
  }

  // ---- Delivered messages and expiry ----

  /**
   * Deletes the head message. When the subscriber was given it (it holds no delivered message of
   * its own but the head) and someone else removes it (a GET reader's ACK, expiry), its id is
   * written down: the subscriber's ACK of it must still be answered with the next message.
   */
  private deleteHead(q: QueueRecord, head: MessageRow, byOther: boolean): void {
    if (byOther && q.subscriber !== null && q.delivered === null) this.store.update({ delivered: head.msg_id });
    this.store.deleteMessage(head.seq);
  }

  /**
   * The oldest unexpired message at `now` (ms); expired ones are deleted first (the alarm may run
   * late). The quota marker does not expire (see QueueStore.deleteExpired).
   */
  private head(withBody: boolean, now: number): MessageRow | null {
    const row = this.store.oldest(withBody);
    if (row === null || row.quota === 1 || row.expires > now) return row;
    // The alarm runs late: a command met the expired messages first. Counted without waiting.
    void this.countExpired(this.expire(now));
    return this.store.oldest(withBody);
  }

  /**
   * Deletes what expired at `now`, writing down a subscriber's delivered head that goes with it.
   * Returns how many messages it deleted.
   */
  private expire(now: number): number {
    const q = this.store.load();
    if (q === null) return 0;
    const head = q.subscriber !== null && q.delivered === null ? this.store.oldest(false) : null;
    const gone = this.store.deleteExpired(now);
    if (gone > 0 && head !== null && head.quota === 0 && head.expires <= now) this.store.update({ delivered: head.msg_id });
    return gone;
  }

  /** Statistics: `n` messages expired (one Stats request, only when n > 0; stats.ts). */
  private async countExpired(n: number): Promise<void> {
    if (n > 0) await recordStats(this.env, this.config, { messagesExpired: n });
  }

  /** The expiry alarm: deletes expired messages and re-arms for the next. Safe to run twice. */
  override async alarm(): Promise<void> {
    metrics.alarms++;
    const q = this.store.load();
    if (q === null) return;
    if (q.status === "deleting") {
      // A DEL that could not release every index entry: finish it (a throw retries the alarm).
      await this.releaseIndexes(q.name);
      return this.wipe(null);
    }
    await this.countExpired(this.expire(Date.now()));
    const next = this.store.nextExpiry();
    this.alarmAt = next;
    if (next !== null) {
      metrics.alarmWrites++;
      await this.ctx.storage.setAlarm(next);
    }
  }

  // ---- Storage and pushes ----

  /** Stores a message encrypted for the recipient: the body is sealed once, here. */
  private insert(q: QueueRecord, ts: number, now: number, plaintext: Uint8Array, quota: boolean): MessageRow {
    const msgId = randomBytes(24);
    const expires = now + this.config.messageTtlSeconds * 1000;
    const body = cryptoBox(q.dh_secret, msgId, pad(plaintext, MSG_PADDED));
    const row = { msg_id: msgId, ts, quota: quota ? 1 : 0, expires, body };
    const seq = this.store.insert(row);
    if (!quota) void this.armAlarm(expires);
    return { seq, ...row };
  }

  /** Keeps an alarm at or before the earliest expiry, writing it only when it must move. */
  private async armAlarm(expires: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt === null || this.alarmAt > expires) {
      this.alarmAt = expires;
      metrics.alarmWrites++;
      await this.ctx.storage.setAlarm(expires);
    }
  }

  /**
   * Pushes to a subscriber Session by its object id, without holding up the reply. A Session
   * whose socket is gone, or that no longer holds this subscription generation, answers false:
   * the queue then forgets that subscription (a newer one stays).
   */
  private pushTo(session: string, gen: number, q: Pick<QueueRecord, "name" | "rcv_id">, response: ServerResponse, attempt = 0): void {
    const stub = this.env.SESSION.get(this.env.SESSION.idFromString(session));
    const { name, rcv_id } = q;
    void stub.push(name, rcv_id, response, gen).then(
      (delivered) => {
        if (!delivered) this.dropSubscriber(session, gen);
      },
      (e: unknown) => {
        // The call failed (an object reset, a lost connection between objects): that says
        // nothing about the subscriber, and the queue counts the message as given to it, so the
        // push is tried again. A MSG is not, once a newer SUB (which redelivers) or a DEL happened.
        const current = this.store.load();
        const stale = response.tag === "MSG" && (current === null || current.subscriber !== session || current.sub_gen !== gen);
        if (stale) return;
        if (attempt < PUSH_RETRY_MS.length) {
          setTimeout(() => this.pushTo(session, gen, { name, rcv_id }, response, attempt + 1), PUSH_RETRY_MS[attempt]);
          return;
        }
        // Unreachable for long: treat it as gone. Its client subscribes again when it reconnects.
        console.error("push failed", e instanceof Error ? e.message : String(e));
        this.dropSubscriber(session, gen);
      },
    );
  }

  private dropSubscriber(session: string, gen: number): void {
    const q = this.store.load();
    if (q !== null && q.subscriber === session && q.sub_gen === gen) this.store.update({ subscriber: null, delivered: null });
  }
}

/** ACK's msgId names the delivered message: equal to it, or empty for "whatever was delivered". */
function names(msgId: Uint8Array, delivered: Uint8Array | null): boolean {
  return delivered !== null && (msgId.length === 0 || equalBytes(msgId, delivered));
}

function msg(m: MessageRow): ServerResponse {
  return { tag: "MSG", msgId: m.msg_id, body: m.body };
}

function int64(n: number): Uint8Array {
  return new Encoder(8).int64(BigInt(n)).bytes();
}
