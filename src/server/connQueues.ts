// What one connection is to each queue it touched (see ConnQueue in queue.ts): the subscriber,
// with the generation of its SUB, or a reader with GET, with the message its GET gave it. Kept in
// the Session object's SQLite storage so it outlives hibernation; the table is made on first
// use, so a connection that only pings or sends never writes storage. While the object is awake
// it is also kept in memory: a pushed message and its ACK each need it, and storage is read for
// a queue only once per wake. A subscriber's ACK changes nothing here: no write per message.
//
// After the connection closes nothing is written any more (`close()`): a command still in flight
// when the socket closed must not leave a row behind once the object has freed its storage.
import { equalBytes } from "../protocol/encoding.js";
import { execCounted } from "./metrics.js";
import type { ConnQueue } from "./queue.js";

/** Queues whose entry is kept in memory at most (a few hundred kB). */
const MAX_KNOWN = 10_000;

interface Row extends Record<string, SqlStorageValue> {
  mode: string;
  gen: number | null;
  delivered: ArrayBuffer | null;
}

export class ConnQueues {
  private ready: boolean | undefined;
  private closed = false;
  /** How many queues this connection is subscribed to (read once per wake, then kept). */
  private subs: number | undefined;
  /** Entries known since the object woke, by queue (null: none). Every write goes through set(). */
  private readonly known = new Map<string, ConnQueue | null>();

  constructor(private readonly sql: SqlStorage) {}

  private exists(): boolean {
    this.ready ??= execCounted(this.sql, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'conn_queues'").length > 0;
    return this.ready;
  }

  get(queue: string): ConnQueue | null {
    if (this.closed) return null;
    const known = this.known.get(queue);
    if (known !== undefined) return known;
    if (!this.exists()) return null;
    const row = execCounted<Row>(this.sql, "SELECT mode, gen, delivered FROM conn_queues WHERE queue = ?", queue)[0];
    return this.remember(queue, row ? fromRow(row) : null);
  }

  subscriptions(): number {
    if (this.subs === undefined) {
      this.subs = this.exists() ? (execCounted<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM conn_queues WHERE mode = 'sub'")[0]?.n ?? 0) : 0;
    }
    return this.subs;
  }

  /** Records the entry (one row written when it changed); nothing after close(). */
  set(queue: string, entry: ConnQueue | null): void {
    if (this.closed) return;
    const before = this.get(queue);
    if (same(before, entry)) return;
    const subs = this.subscriptions() + (entry?.mode === "sub" ? 1 : 0) - (before?.mode === "sub" ? 1 : 0);
    this.write(queue, entry);
    this.subs = subs;
    this.remember(queue, entry);
  }

  /** The connection closed: forget everything and write nothing from now on. */
  close(): void {
    this.closed = true;
    this.subs = 0;
    this.known.clear();
  }

  /** Bounded: a connection that touches very many queues starts over. */
  private remember(queue: string, entry: ConnQueue | null): ConnQueue | null {
    if (this.known.size >= MAX_KNOWN) this.known.clear();
    this.known.set(queue, entry);
    return entry;
  }

  private write(queue: string, entry: ConnQueue | null): void {
    if (entry === null) {
      if (this.exists()) execCounted(this.sql, "DELETE FROM conn_queues WHERE queue = ?", queue);
      return;
    }
    if (!this.exists()) {
      this.sql.exec("CREATE TABLE IF NOT EXISTS conn_queues (queue TEXT PRIMARY KEY, mode TEXT NOT NULL, gen INTEGER, delivered BLOB) WITHOUT ROWID");
      this.ready = true;
    }
    const gen = entry.mode === "sub" ? entry.gen : null;
    const delivered = entry.mode === "get" && entry.delivered !== null ? entry.delivered.slice().buffer : null;
    execCounted(
      this.sql,
      "INSERT INTO conn_queues (queue, mode, gen, delivered) VALUES (?, ?, ?, ?) ON CONFLICT (queue) DO UPDATE SET mode = excluded.mode, gen = excluded.gen, delivered = excluded.delivered",
      queue,
      entry.mode,
      gen,
      delivered,
    );
  }
}

function fromRow(r: Row): ConnQueue {
  return r.mode === "sub" ? { mode: "sub", gen: r.gen ?? 0 } : { mode: "get", delivered: r.delivered === null ? null : new Uint8Array(r.delivered) };
}

function same(a: ConnQueue | null, b: ConnQueue | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.mode === "sub" || b.mode === "sub") return a.mode === b.mode && (a as { gen: number }).gen === (b as { gen: number }).gen;
  const x = a.delivered;
  const y = b.delivered;
  return x === null || y === null ? x === y : equalBytes(x, y);
}
