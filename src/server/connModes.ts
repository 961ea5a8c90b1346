// What one connection is to each queue it touched: its subscriber (SUB) or a reader with GET.
// Kept in the Session object's SQLite storage so it outlives hibernation; the table is made on
// first use, so a connection that only pings never writes storage. While the object is awake,
// what was read or written is also kept in memory: a message pushed to a subscriber and its ACK
// each need the mode, and storage is read for a queue only once per wake.
import { execCounted } from "./metrics.js";
import type { ConnMode } from "./queue.js";

/** Queues whose mode is kept in memory at most (a few hundred kB). */
const MAX_KNOWN = 10_000;

export class ConnModes {
  private ready: boolean | undefined;
  /** How many queues this connection is subscribed to (read once per wake, then kept). */
  private subs: number | undefined;
  /** Modes known since the object woke, by queue (null: none). Every write goes through set(). */
  private readonly known = new Map<string, ConnMode | null>();

  constructor(private readonly sql: SqlStorage) {}

  private exists(): boolean {
    this.ready ??= execCounted(this.sql, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'modes'").length > 0;
    return this.ready;
  }

  get(queue: string): ConnMode | null {
    const known = this.known.get(queue);
    if (known !== undefined) return known;
    if (!this.exists()) return null;
    const row = execCounted<{ mode: string }>(this.sql, "SELECT mode FROM modes WHERE queue = ?", queue)[0];
    return this.remember(queue, row ? (row.mode as ConnMode) : null);
  }

  subscriptions(): number {
    if (this.subs === undefined) {
      this.subs = this.exists() ? (execCounted<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM modes WHERE mode = 'sub'")[0]?.n ?? 0) : 0;
    }
    return this.subs;
  }

  set(queue: string, mode: ConnMode | null): void {
    const before = this.get(queue);
    if (before === mode) return;
    const subs = this.subscriptions() + (mode === "sub" ? 1 : 0) - (before === "sub" ? 1 : 0);
    this.write(queue, mode);
    this.subs = subs;
    this.remember(queue, mode);
  }

  /** Bounded: a connection that touches very many queues (SENDs to each) starts over. */
  private remember(queue: string, mode: ConnMode | null): ConnMode | null {
    if (this.known.size >= MAX_KNOWN) this.known.clear();
    this.known.set(queue, mode);
    return mode;
  }

  private write(queue: string, mode: ConnMode | null): void {
    if (mode === null) {
      if (this.exists()) execCounted(this.sql, "DELETE FROM modes WHERE queue = ?", queue);
      return;
    }
    if (!this.exists()) {
      this.sql.exec("CREATE TABLE IF NOT EXISTS modes (queue TEXT PRIMARY KEY, mode TEXT NOT NULL) WITHOUT ROWID");
      this.ready = true;
    }
    execCounted(this.sql, "INSERT INTO modes (queue, mode) VALUES (?, ?) ON CONFLICT (queue) DO UPDATE SET mode = excluded.mode", queue, mode);
  }

  /** Forgets everything (the connection closed). */
  clear(): void {
    this.ready = false;
    this.subs = 0;
    this.known.clear();
  }
}
