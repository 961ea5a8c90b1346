// What one connection is to each queue it touched (see ConnQueue in queue.ts): the subscriber,
// with the generation of its SUB, or a reader with GET, with the message its GET gave it.
//
// Where it lives: in the WebSocket's attachment, packed (connEntries.ts), so that it outlives
// hibernation without a storage write: a reconnecting client's SUBs cost no row here, only the
// Queue's own. The attachment is small (2,048 bytes in all), so past ATTACHED_MAX bytes further
// entries spill into the Session object's SQLite storage (one row each; the table is made on
// the first spill, and the attachment says that it exists). An entry lives in one place only.
// While the object is awake everything is also kept in memory.
//
// After the connection closes nothing is written any more (`close()`): a command still in flight
// when the socket closed must not leave a row behind once the object has freed its storage.
import { execCounted } from "./metrics.js";
import { ATTACHED_MAX, packEntries, packedSize, sameEntry, unpackEntries, type ConnQueue } from "./connEntries.js";
import { readState, writeState, type OpenState } from "./sessionState.js";

interface Row extends Record<string, SqlStorageValue> {
  mode: string;
  gen: number | null;
  delivered: ArrayBuffer | null;
}

export class ConnQueues {
  private closed = false;
  /** The attached entries, decoded once per wake (undefined: not read yet). */
  private attached: Map<string, ConnQueue> | undefined;
  /** Spilled entries read since the object woke (null: none there). */
  private readonly spilled = new Map<string, ConnQueue | null>();
  /** How many spilled entries are subscriptions (read once per wake). */
  private spilledSubs: number | undefined;

  /** `socket`: the connection's WebSocket (a Session has one), undefined once it is gone. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly socket: () => WebSocket | undefined,
  ) {}

  /** What this connection is to `queue`, or null. */
  get(queue: string): ConnQueue | null {
    if (this.closed) return null;
    const a = this.attachedEntries().get(queue);
    if (a !== undefined) return a;
    return this.spilledEntry(queue);
  }

  /** How many queues this connection is subscribed to. */
  subscriptions(): number {
    if (this.closed) return 0;
    let n = 0;
    for (const e of this.attachedEntries().values()) if (e.mode === "sub") n++;
    return n + this.spilledSubscriptions();
  }

  private spilledSubscriptions(): number {
    this.spilledSubs ??= this.hasSpilled() ? (execCounted<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM conn_queues WHERE mode = 'sub'")[0]?.n ?? 0) : 0;
    return this.spilledSubs;
  }

  /** Records the entry: in the attachment while it fits (no row written), else one row. Nothing after close(). */
  set(queue: string, entry: ConnQueue | null): void {
    if (this.closed) return;
    const before = this.get(queue);
    if (sameEntry(before, entry)) return;
    const attached = this.attachedEntries();
    if (attached.has(queue) || this.spilledEntry(queue) === null) {
      // Attached, or new: try the attachment first.
      const next = new Map(attached);
      if (entry === null) next.delete(queue);
      else next.set(queue, entry);
      if (entry === null || packedSize(next) <= ATTACHED_MAX) {
        this.attach(next);
        return;
      }
      if (attached.has(queue)) {
        // It grew past the room left (a GET reader's delivered id): move it out.
        next.delete(queue);
        this.attach(next);
      }
    }
    this.spill(queue, entry);
  }

  /** Whether entries went to the object's storage (which must then be freed when the connection ends). */
  usedStorage(): boolean {
    return this.hasSpilled() || this.spilled.size > 0;
  }

  /** The connection closed: forget everything and write nothing from now on. */
  close(): void {
    this.closed = true;
    this.attached = new Map();
    this.spilled.clear();
    this.spilledSubs = 0;
  }

  private openState(): { ws: WebSocket; state: OpenState } | null {
    const ws = this.socket();
    const state = ws ? readState(ws) : null;
    return ws && state?.phase === "open" ? { ws, state } : null;
  }

  private attachedEntries(): Map<string, ConnQueue> {
    if (this.attached === undefined) {
      const conns = this.openState()?.state.conns;
      this.attached = conns === undefined ? new Map() : unpackEntries(conns);
    }
    return this.attached;
  }

  private attach(entries: Map<string, ConnQueue>): void {
    const open = this.openState();
    if (open === null) return; // the socket is gone: nothing to keep
    writeState(open.ws, { ...open.state, conns: packEntries(entries) });
    this.attached = entries;
  }

  private hasSpilled(): boolean {
    return this.openState()?.state.spilled === true;
  }

  private spilledEntry(queue: string): ConnQueue | null {
    const known = this.spilled.get(queue);
    if (known !== undefined) return known;
    if (!this.hasSpilled()) return null;
    const row = execCounted<Row>(this.sql, "SELECT mode, gen, delivered FROM conn_queues WHERE queue = ?", queue)[0];
    const entry = row ? fromRow(row) : null;
    this.spilled.set(queue, entry);
    return entry;
  }

  /** Writes the entry as a row (one row written); the attachment then says rows exist. */
  private spill(queue: string, entry: ConnQueue | null): void {
    const open = this.openState();
    if (open === null) return;
    const wasSub = this.spilledEntry(queue)?.mode === "sub";
    const subs = this.spilledSubscriptions() - (wasSub ? 1 : 0) + (entry?.mode === "sub" ? 1 : 0);
    if (entry === null) {
      if (this.hasSpilled()) execCounted(this.sql, "DELETE FROM conn_queues WHERE queue = ?", queue);
    } else {
      if (open.state.spilled !== true) {
        this.sql.exec("CREATE TABLE IF NOT EXISTS conn_queues (queue TEXT PRIMARY KEY, mode TEXT NOT NULL, gen INTEGER, delivered BLOB) WITHOUT ROWID");
        writeState(open.ws, { ...open.state, spilled: true });
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
    this.spilled.set(queue, entry);
    this.spilledSubs = subs;
  }
}

function fromRow(r: Row): ConnQueue {
  return r.mode === "sub" ? { mode: "sub", gen: r.gen ?? 0 } : { mode: "get", delivered: r.delivered === null ? null : new Uint8Array(r.delivered) };
}
