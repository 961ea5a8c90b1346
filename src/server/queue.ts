// QueueDO: one Durable Object per SMP queue. It holds the queue record (keys, per-queue DH
// secret, status, subscriber), the pending messages (already encrypted for the recipient) and
// an alarm for their expiry. Sessions call it over RPC, one call per command; it pushes MSG,
// END and DELD back to subscriber Sessions by their object id.
//
// Storage cost per delivered message is one INSERT (SEND) and one DELETE (ACK): which message
// is "delivered" is not stored, it is always the head of the queue (one outstanding message per
// queue, delivered in order).
import { DurableObject } from "cloudflare:workers";
import type { ClientCommand, ServerResponse } from "../protocol/commands.js";
import { base64 } from "../protocol/base64.js";
import { asciiBytes, concatBytes, equalBytes, Encoder } from "../protocol/encoding.js";
import { pad } from "../protocol/padding.js";
import { decodePublicKey, encodePublicKey, type PublicKey } from "../crypto/keys.js";
import { randomBytes } from "../crypto/random.js";
import { cryptoBox } from "../crypto/secretbox.js";
import { generateX25519, x25519 } from "../crypto/x25519.js";
import { verifyCommand, type AuthInput } from "./auth.js";
import { readConfig, type RelayConfig } from "./config.js";
import { execCounted, metrics } from "./metrics.js";

/** Largest SEND body (v11+). */
export const MAX_BODY = 16048;
/** Padded size of a delivered message plaintext; 16122 bytes once encrypted. */
const MSG_PADDED = 16106;

export type ConnMode = "sub" | "get";

/** The commands a Queue object serves: the protocol's own command types, not copies of them. */
export const QUEUE_TAGS = ["SUB", "KEY", "SKEY", "SEND", "ACK", "GET", "OFF", "DEL", "QUE"] as const;
export type QueueCommand = Extract<ClientCommand, { tag: (typeof QUEUE_TAGS)[number] }>;

export interface QueueCall {
  command: QueueCommand;
  auth: AuthInput;
  /** The calling Session object's id: the subscriber identity. */
  session: string;
  /** What the calling connection is to this queue: subscribed (SUB), reading with GET, or neither. */
  mode: ConnMode | null;
}

export interface QueueResult {
  reply: ServerResponse;
  /** A MSG to push after the replies of the block (SUB with a pending message). */
  push?: ServerResponse;
  /** The connection's new mode for this queue; undefined when unchanged. */
  mode?: ConnMode | null;
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
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    rcv_id BLOB NOT NULL, snd_id BLOB NOT NULL,
    rcv_key BLOB NOT NULL, snd_key BLOB,
    dh_secret BLOB NOT NULL,
    mode TEXT NOT NULL, status TEXT NOT NULL,
    subscriber TEXT, can_write INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS msg (
    seq INTEGER PRIMARY KEY,
    msg_id BLOB NOT NULL, ts INTEGER NOT NULL, quota INTEGER NOT NULL,
    expires INTEGER NOT NULL, body BLOB NOT NULL
  );`;

interface QueueRecord {
  name: string;
  rcv_id: Uint8Array;
  snd_id: Uint8Array;
  rcv_key: Uint8Array;
  snd_key: Uint8Array | null;
  dh_secret: Uint8Array;
  mode: string;
  status: string;
  subscriber: string | null;
  can_write: number;
}

interface MessageRow {
  seq: number;
  msg_id: Uint8Array;
  ts: number;
  quota: number;
  expires: number;
  body: Uint8Array;
}

const AUTH: QueueResult = { reply: { tag: "ERR", code: "AUTH" } };
const OK: ServerResponse = { tag: "OK" };
const err = (code: "NO_MSG" | "QUOTA" | "LARGE_MSG" | "CMD PROHIBITED"): QueueResult => ({ reply: { tag: "ERR", code } });

/** SQLite takes and returns BLOBs as ArrayBuffers. */
const bytes = (v: unknown): Uint8Array => new Uint8Array(v as ArrayBuffer);
/** The bytes as an ArrayBuffer of their own: the buffer itself when the array spans all of it. */
const blob = (b: Uint8Array): ArrayBuffer =>
  (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer) as ArrayBuffer;

export class QueueDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private configCache: RelayConfig | undefined;
  /** In-memory copies of what storage holds, filled on first use after a wake. */
  private record: QueueRecord | null | undefined;
  private count: number | undefined;
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
  }

  /** Read on first use, not in the constructor: a bad var fails a call, never the object. */
  private get config(): RelayConfig {
    return (this.configCache ??= readConfig(this.env as unknown as Record<string, string>));
  }

  // ---- RPC: creation ----

  /** NEW: stores the record and returns the server's DH public key (DER) for IDS. */
  async create(p: CreateParams): Promise<Uint8Array> {
    metrics.rpc.queueCreate++;
    const kp = await generateX25519();
    const dhSecret = await x25519(kp.privateKey, p.rcvDhKey.subarray(12));
    if (this.load() !== null) throw new Error("queue key collision");
    // Tables are made only here: probing a missing or deleted queue must not create storage.
    this.sql.exec(SCHEMA);
    this.exec(
      "INSERT INTO queue (id, name, rcv_id, snd_id, rcv_key, snd_key, dh_secret, mode, status, subscriber, can_write) VALUES (1, ?, ?, ?, ?, NULL, ?, ?, 'active', ?, 1)",
      p.queue,
      blob(p.rcvId),
      blob(p.sndId),
      blob(p.rcvAuthKey),
      blob(dhSecret),
      p.mode,
      p.subscriber,
    );
    this.record = undefined;
    this.count = 0;
    return encodePublicKey({ alg: "x25519", raw: kp.publicKey });
  }

  // ---- RPC: commands ----

  /** Verifies the command's authorization, then runs it. Every failure of identity is AUTH. */
  async call(c: QueueCall): Promise<QueueResult> {
    metrics.rpc.queueCall++;
    const q = this.load();
    const cmd = c.command;
    const unsignedSend = cmd.tag === "SEND" && q !== null && q.snd_key === null && c.auth.authorization.length === 0;
    if (!unsignedSend && !(await verifyCommand(q === null ? null : this.verificationKey(q, c), c.auth))) return AUTH;
    // The await above lets other calls in: read the record again before acting on it.
    const rec = this.load();
    if (rec === null) return AUTH;
    switch (cmd.tag) {
      case "SUB":
        return this.subscribe(rec, c);
      case "KEY":
      case "SKEY":
        return this.secure(rec, cmd.senderKey);
      case "SEND":
        return this.send(rec, cmd.notify, cmd.body);
      case "ACK":
        return this.ack(rec, c, cmd.msgId);
      case "GET":
        return this.get(c);
      case "OFF":
        if (rec.status !== "off") this.update("status = 'off'");
        return { reply: OK };
      case "DEL":
        return await this.delete(rec, c);
      case "QUE":
        return { reply: this.info(rec, c) };
    }
  }

  /** The key a command must verify against; null means "none can" (verified against a dummy). */
  private verificationKey(q: QueueRecord, c: QueueCall): PublicKey | null {
    switch (c.command.tag) {
      case "SEND":
        // Unsecured queues take only unsigned SENDs (handled by the caller of verifyCommand).
        return q.snd_key === null ? null : decodePublicKey(q.snd_key);
      case "SKEY":
        // The sender proves it holds the key it sets; messaging queues only.
        return q.mode === "M" ? decodePublicKey(c.command.senderKey) : null;
      default:
        return decodePublicKey(q.rcv_key);
    }
  }

  private subscribe(q: QueueRecord, c: QueueCall): QueueResult {
    if (c.mode === "get") return err("CMD PROHIBITED");
    const previous = q.subscriber;
    if (previous !== c.session) {
      this.update("subscriber = ?", c.session);
      if (previous !== null) this.pushTo(previous, q, { tag: "END" });
    }
    const head = this.head();
    return { reply: { tag: "SOK", serviceId: null }, ...(head ? { push: this.msg(head) } : {}), mode: "sub" };
  }

  private secure(q: QueueRecord, senderKey: Uint8Array): QueueResult {
    if (decodePublicKey(senderKey) === null) return AUTH;
    if (q.snd_key === null) this.update("snd_key = ?", blob(senderKey));
    else if (!equalBytes(q.snd_key, senderKey)) return AUTH;
    return { reply: OK };
  }

  private send(q: QueueRecord, notify: boolean, body: Uint8Array): QueueResult {
    if (q.status !== "active") return AUTH;
    if (body.length > MAX_BODY) return err("LARGE_MSG");
    const count = this.messageCount();
    if (!q.can_write || count >= this.config.queueQuota) {
      if (q.can_write) {
        // The first refused SEND leaves the recipient a marker; later ones only get the error.
        this.update("can_write = 0");
        const ts = nowSeconds();
        this.insert(q, ts, concatBytes(asciiBytes("QUOTA "), int64(ts)), true);
      }
      return err("QUOTA");
    }
    const ts = nowSeconds();
    const row = this.insert(q, ts, concatBytes(int64(ts), asciiBytes(notify ? "T " : "F "), body), false);
    if (count === 0 && q.subscriber !== null) this.pushTo(q.subscriber, q, this.msg(row));
    return { reply: OK };
  }

  private ack(q: QueueRecord, c: QueueCall, msgId: Uint8Array): QueueResult {
    // Only the current subscriber, or a connection reading with GET, has a delivered message.
    if (c.mode === null || (c.mode === "sub" && q.subscriber !== c.session)) return err("NO_MSG");
    // Which message is delivered needs only its id: the 16 KB body stays in SQLite.
    const head = this.head(false);
    if (head === null || (msgId.length > 0 && !equalBytes(msgId, head.msg_id))) return err("NO_MSG");
    const n = this.messageCount();
    this.exec("DELETE FROM msg WHERE seq = ?", head.seq);
    this.count = n - 1;
    if (this.count === 0 && !q.can_write) this.update("can_write = 1");
    const next = c.mode === "sub" && this.count > 0 ? this.head() : null;
    return { reply: next ? this.msg(next) : OK };
  }

  private get(c: QueueCall): QueueResult {
    if (c.mode === "sub") return err("CMD PROHIBITED");
    const head = this.head();
    return { reply: head ? this.msg(head) : OK, mode: "get" };
  }

  private async delete(q: QueueRecord, c: QueueCall): Promise<QueueResult> {
    if (q.subscriber !== null && q.subscriber !== c.session) this.pushTo(q.subscriber, q, { tag: "DELD" });
    this.record = null;
    // Frees the object's storage entirely, alarm included (compatibility date ≥ 2026-02-24).
    await this.ctx.storage.deleteAll();
    this.record = null;
    this.count = 0;
    this.alarmAt = null;
    return { reply: OK, mode: null };
  }

  private info(q: QueueRecord, c: QueueCall): ServerResponse {
    const head = this.head(false);
    const info: Record<string, unknown> = { qiSnd: q.snd_key !== null, qiNtf: false };
    if (c.mode !== null) {
      info.qiSub = {
        qSubThread: c.mode === "sub" ? "subThread" : "noSub",
        ...(head ? { qDelivered: base64.encode(head.msg_id) } : {}),
      };
    }
    info.qiSize = this.messageCount();
    if (head) {
      info.qiMsg = {
        msgId: base64.encode(head.msg_id),
        msgTs: new Date(head.ts * 1000).toISOString().replace(".000Z", "Z"),
        msgType: head.quota ? "quota" : "message",
      };
    }
    return { tag: "INFO", json: JSON.stringify(info) };
  }

  // ---- Expiry ----

  /** Deletes expired messages and re-arms for the next expiry. Safe to run twice. */
  override async alarm(): Promise<void> {
    metrics.alarms++;
    if (this.load() === null) return;
    this.exec("DELETE FROM msg WHERE expires <= ?", Date.now());
    this.count = undefined;
    const next = (this.exec<{ e: number | null }>("SELECT MIN(expires) AS e FROM msg")[0]?.e ?? null);
    this.alarmAt = next;
    if (next !== null) {
      metrics.alarmWrites++;
      await this.ctx.storage.setAlarm(next);
    }
    const q = this.load();
    if (q && !q.can_write && this.messageCount() === 0) this.update("can_write = 1");
  }

  // ---- Storage helpers ----

  private load(): QueueRecord | null {
    if (this.record === undefined) {
      const exists = this.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue'").length > 0;
      const row = exists ? this.exec("SELECT * FROM queue WHERE id = 1")[0] : undefined;
      this.record = (row as unknown as QueueRecord | undefined) ?? null;
      if (this.record) {
        const r = this.record;
        r.rcv_id = bytes(r.rcv_id);
        r.snd_id = bytes(r.snd_id);
        r.rcv_key = bytes(r.rcv_key);
        r.snd_key = r.snd_key === null ? null : bytes(r.snd_key);
        r.dh_secret = bytes(r.dh_secret);
      }
    }
    return this.record;
  }

  private exec<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
    return execCounted<T>(this.sql, query, ...bindings);
  }

  private update(assignment: string, ...values: SqlStorageValue[]): void {
    this.exec(`UPDATE queue SET ${assignment} WHERE id = 1`, ...values);
    this.record = undefined;
  }

  private messageCount(): number {
    this.count ??= this.exec<{ n: number }>("SELECT COUNT(*) AS n FROM msg")[0]?.n ?? 0;
    return this.count;
  }

  /** The oldest unexpired message: the one delivered, or next to be. Without its body: an empty one. */
  private head(withBody = true): MessageRow | null {
    const row = this.exec(withBody ? "SELECT * FROM msg ORDER BY seq LIMIT 1" : "SELECT seq, msg_id, ts, quota, expires FROM msg ORDER BY seq LIMIT 1")[0];
    if (!row) return null;
    if ((row.expires as number) <= Date.now()) {
      // The alarm may run late; never deliver what has expired.
      this.exec("DELETE FROM msg WHERE expires <= ?", Date.now());
      this.count = undefined;
      return this.head(withBody);
    }
    return { ...(row as unknown as MessageRow), msg_id: bytes(row.msg_id), body: withBody ? bytes(row.body) : new Uint8Array(0) };
  }

  /** Stores a message encrypted for the recipient: the body is sealed once, here. */
  private insert(q: QueueRecord, ts: number, plaintext: Uint8Array, quota: boolean): MessageRow {
    const msgId = randomBytes(24);
    const expires = Date.now() + this.config.messageTtlSeconds * 1000;
    const body = cryptoBox(q.dh_secret, msgId, pad(plaintext, MSG_PADDED));
    const n = this.messageCount();
    const seq = this.exec<{ seq: number }>(
      "INSERT INTO msg (msg_id, ts, quota, expires, body) VALUES (?, ?, ?, ?, ?) RETURNING seq",
      blob(msgId),
      ts,
      quota ? 1 : 0,
      expires,
      blob(body),
    )[0]!.seq;
    this.count = n + 1;
    void this.armAlarm(expires);
    return { seq, msg_id: msgId, ts, quota: quota ? 1 : 0, expires, body };
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

  private msg(m: MessageRow): ServerResponse {
    return { tag: "MSG", msgId: m.msg_id, body: m.body };
  }

  /**
   * Pushes to a subscriber Session by its object id, without holding up the reply. A Session
   * whose socket is gone (or that no longer counts itself subscribed) answers false, and the
   * queue forgets it.
   */
  private pushTo(session: string, q: QueueRecord, response: ServerResponse): void {
    const stub = this.env.SESSION.get(this.env.SESSION.idFromString(session));
    void stub.push(q.name, q.rcv_id, response).then(
      (delivered) => {
        if (!delivered && response.tag === "MSG") this.dropSubscriber(session);
      },
      (e: unknown) => {
        // A failed call says nothing about the subscriber: keep it. The message stays pending
        // and goes out again on the next SUB or ACK.
        console.error("push failed", e instanceof Error ? e.message : String(e));
      },
    );
  }

  private dropSubscriber(session: string): void {
    const q = this.load();
    if (q !== null && q.subscriber === session) this.update("subscriber = NULL");
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function int64(n: number): Uint8Array {
  return new Encoder(8).int64(BigInt(n)).bytes();
}
