// The SQLite rows of one Queue object: its record (keys, status, subscriber) and its pending
// messages, with in-memory copies while the object is awake. Every write goes through here, so
// the row counts of the bench can be read off this file.
//
// The subscriber's delivered message (upstream keeps it per subscription, `delivered` of a Sub
// in Server.hs) is stored without a write per message: while a subscriber exists it is *the head
// of the queue*, unless the head was removed by something other than the subscriber's own ACK
// (a GET reader's ACK, expiry). Only then is its id written down, in `delivered`, until the
// subscriber's next ACK or SUB. So a message costs one INSERT (SEND) and one DELETE (ACK).
import { equalBytes } from "../protocol/encoding.js";
import { execCounted } from "./metrics.js";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    rcv_id BLOB NOT NULL, snd_id BLOB NOT NULL,
    rcv_key BLOB NOT NULL, snd_key BLOB,
    dh_secret BLOB NOT NULL,
    mode TEXT NOT NULL, status TEXT NOT NULL,
    subscriber TEXT, can_write INTEGER NOT NULL,
    sub_gen INTEGER NOT NULL DEFAULT 0, delivered BLOB,
    rcv_keys BLOB, snd_index TEXT,
    link_id BLOB, fixed_data BLOB, user_data BLOB, link_index TEXT,
    blocked TEXT
  );
  CREATE TABLE IF NOT EXISTS msg (
    seq INTEGER PRIMARY KEY,
    msg_id BLOB NOT NULL, ts INTEGER NOT NULL, quota INTEGER NOT NULL,
    expires INTEGER NOT NULL, body BLOB NOT NULL
  );`;

/** Columns added after the first release; queues made before them get them on first load. */
const MIGRATIONS: Record<string, string> = {
  sub_gen: "ALTER TABLE queue ADD COLUMN sub_gen INTEGER NOT NULL DEFAULT 0",
  delivered: "ALTER TABLE queue ADD COLUMN delivered BLOB",
  rcv_keys: "ALTER TABLE queue ADD COLUMN rcv_keys BLOB",
  snd_index: "ALTER TABLE queue ADD COLUMN snd_index TEXT",
  link_id: "ALTER TABLE queue ADD COLUMN link_id BLOB",
  fixed_data: "ALTER TABLE queue ADD COLUMN fixed_data BLOB",
  user_data: "ALTER TABLE queue ADD COLUMN user_data BLOB",
  link_index: "ALTER TABLE queue ADD COLUMN link_index TEXT",
  blocked: "ALTER TABLE queue ADD COLUMN blocked TEXT",
};

export interface QueueRecord {
  name: string;
  rcv_id: Uint8Array;
  snd_id: Uint8Array;
  rcv_key: Uint8Array;
  snd_key: Uint8Array | null;
  dh_secret: Uint8Array;
  /** "M" messaging, "C" contact, "-" not given. */
  mode: string;
  /** "active", "off", or "deleting" (a DEL under way: see QueueDO.delete). */
  status: string;
  /** The subscribed Session object's id. */
  subscriber: string | null;
  /** Subscription generation: one more at every SUB; pushes carry it so a stale one is ignored. */
  sub_gen: number;
  /** The subscriber's delivered message when it is no longer the head (see the top of the file). */
  delivered: Uint8Array | null;
  /** 0 after a quota marker, until the queue is empty again (upstream `canWrite`). */
  can_write: number;
  /** All recipient keys after an RKEY (encodeKeys); null: just rcv_key. */
  rcv_keys: Uint8Array | null;
  /** The index object of a client-chosen sender id (idIndex.ts); null when the relay chose it. */
  snd_index: string | null;
  /** The short link's id, and its two blobs as the client gave them (WIRE.md 6.13a); null: no link. */
  link_id: Uint8Array | null;
  fixed_data: Uint8Array | null;
  user_data: Uint8Array | null;
  /** The index object of the link id; null when the relay chose it or there is no link. */
  link_index: string | null;
  /**
   * The operator's block (admin API): the code's text after "BLOCKED " as clients get it
   * (`reason=spam`, `reason=content,notice={"ttl":N}`; errors.ts blockedCode); null: not blocked.
   * Kept apart from `status`, so that a block and the recipient's OFF neither undo the other.
   */
  blocked: string | null;
}

/** The columns a command may change (update). */
export type QueueChanges = Partial<
  Pick<
    QueueRecord,
    "snd_key" | "status" | "subscriber" | "sub_gen" | "delivered" | "can_write" | "rcv_keys" | "link_id" | "fixed_data" | "user_data" | "link_index" | "blocked"
  >
>;

export interface MessageRow {
  seq: number;
  msg_id: Uint8Array;
  /** Receive time, seconds. */
  ts: number;
  /** 1 for the quota marker. */
  quota: number;
  /** Expiry time, ms since the epoch. */
  expires: number;
  /** Sealed for the recipient (16122 bytes); empty when read without it. */
  body: Uint8Array;
}

export interface NewRecord {
  name: string;
  rcvId: Uint8Array;
  sndId: Uint8Array;
  rcvKey: Uint8Array;
  dhSecret: Uint8Array;
  mode: string;
  subscriber: string | null;
  sndIndex: string | null;
  link: { linkId: Uint8Array; fixedData: Uint8Array; userData: Uint8Array; index: string | null } | null;
}

/** SQLite takes and returns BLOBs as ArrayBuffers. */
const bytes = (v: unknown): Uint8Array => new Uint8Array(v as ArrayBuffer);
/** The bytes as an ArrayBuffer of their own: the buffer itself when the array spans all of it. */
export const blob = (b: Uint8Array): ArrayBuffer =>
  (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer) as ArrayBuffer;

export class QueueStore {
  private record: QueueRecord | null | undefined;
  private count: number | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** Makes the tables and the record (NEW). Tables are made only here: probing a missing queue creates nothing. */
  create(r: NewRecord): void {
    this.sql.exec(SCHEMA);
    this.exec(
      "INSERT INTO queue (id, name, rcv_id, snd_id, rcv_key, snd_key, dh_secret, mode, status, subscriber, can_write, sub_gen, delivered, snd_index, link_id, fixed_data, user_data, link_index) VALUES (1, ?, ?, ?, ?, NULL, ?, ?, 'active', ?, 1, ?, NULL, ?, ?, ?, ?, ?)",
      r.name,
      blob(r.rcvId),
      blob(r.sndId),
      blob(r.rcvKey),
      blob(r.dhSecret),
      r.mode,
      r.subscriber,
      r.subscriber === null ? 0 : 1,
      r.sndIndex,
      r.link ? blob(r.link.linkId) : null,
      r.link ? blob(r.link.fixedData) : null,
      r.link ? blob(r.link.userData) : null,
      r.link?.index ?? null,
    );
    this.record = undefined;
    this.count = 0;
  }

  /** The record, or null when there is no queue here (never made, or deleted). */
  load(): QueueRecord | null {
    if (this.record !== undefined) return this.record;
    const exists = this.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue'").length > 0;
    let row = exists ? this.exec("SELECT * FROM queue WHERE id = 1")[0] : undefined;
    if (row !== undefined && Object.keys(MIGRATIONS).some((c) => !(c in row!))) {
      for (const [column, statement] of Object.entries(MIGRATIONS)) if (!(column in row)) this.sql.exec(statement);
      row = this.exec("SELECT * FROM queue WHERE id = 1")[0];
    }
    if (row === undefined) return (this.record = null);
    const r = row as unknown as QueueRecord;
    r.rcv_id = bytes(r.rcv_id);
    r.snd_id = bytes(r.snd_id);
    r.rcv_key = bytes(r.rcv_key);
    r.dh_secret = bytes(r.dh_secret);
    for (const k of ["snd_key", "delivered", "rcv_keys", "link_id", "fixed_data", "user_data"] as const) r[k] = r[k] === null ? null : bytes(r[k]);
    return (this.record = r);
  }

  /** Writes some columns of the record (one row written), skipping values that are unchanged. */
  update(changes: QueueChanges): void {
    const q = this.load();
    if (q === null) return;
    const cols: string[] = [];
    const values: SqlStorageValue[] = [];
    for (const [k, v] of Object.entries(changes) as [keyof QueueRecord, unknown][]) {
      const before = q[k];
      const same = v instanceof Uint8Array && before instanceof Uint8Array ? equalBytes(v, before) : v === before;
      if (same) continue;
      cols.push(`${k} = ?`);
      values.push(v instanceof Uint8Array ? blob(v) : (v as SqlStorageValue));
    }
    if (cols.length === 0) return;
    this.exec(`UPDATE queue SET ${cols.join(", ")} WHERE id = 1`, ...values);
    Object.assign(q, changes);
  }

  /** Forgets the cached record and count (the object was wiped, or is about to be). */
  forget(gone: boolean): void {
    this.record = gone ? null : undefined;
    this.count = gone ? 0 : undefined;
  }

  messageCount(): number {
    this.count ??= this.exec<{ n: number }>("SELECT COUNT(*) AS n FROM msg")[0]?.n ?? 0;
    return this.count;
  }

  /** The oldest stored message, expired or not; without its body (an empty one) unless asked. */
  oldest(withBody: boolean): MessageRow | null {
    const row = this.exec(withBody ? "SELECT * FROM msg ORDER BY seq LIMIT 1" : "SELECT seq, msg_id, ts, quota, expires FROM msg ORDER BY seq LIMIT 1")[0];
    if (!row) return null;
    return { ...(row as unknown as MessageRow), msg_id: bytes(row.msg_id), body: withBody ? bytes(row.body) : new Uint8Array(0) };
  }

  /** Stores a message; returns its seq. */
  insert(m: Omit<MessageRow, "seq">): number {
    const n = this.messageCount();
    const seq = this.exec<{ seq: number }>(
      "INSERT INTO msg (msg_id, ts, quota, expires, body) VALUES (?, ?, ?, ?, ?) RETURNING seq",
      blob(m.msg_id),
      m.ts,
      m.quota,
      m.expires,
      blob(m.body),
    )[0]!.seq;
    this.count = n + 1;
    return seq;
  }

  deleteMessage(seq: number): void {
    const n = this.messageCount();
    this.exec("DELETE FROM msg WHERE seq = ?", seq);
    this.count = n - 1;
  }

  /**
   * Deletes the messages expired at `now` (ms); how many went. A quota marker never expires
   * (upstream deleteExpiredMsgs stops at it): the recipient must see it, or the sender, told
   * QUOTA, would wait for a QCONT that never comes.
   */
  deleteExpired(now: number): number {
    const gone = this.exec("DELETE FROM msg WHERE expires <= ? AND quota = 0 RETURNING seq", now).length;
    if (gone > 0) this.count = undefined;
    return gone;
  }

  /** The earliest expiry among stored messages that expire (ms), or null when none. */
  nextExpiry(): number | null {
    return this.exec<{ e: number | null }>("SELECT MIN(expires) AS e FROM msg WHERE quota = 0")[0]?.e ?? null;
  }

  private exec<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T[] {
    return execCounted<T>(this.sql, query, ...bindings);
  }
}
