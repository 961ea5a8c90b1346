// IdIndexDO: one Durable Object per client-chosen id (a sender id or link id given with NEW's
// link data, or a link id set with LSET; WIRE.md 6.13a). It holds one thing: the queue key of the
// queue the id belongs to. Relay-chosen ids need no index: they carry the queue key sealed
// inside (queueIds.ts, which also names these objects by a keyed hash of kind and id).
//
// Why an object per id: a lookup wakes only the object of that id, so lookups for different ids
// never queue behind one another, and removing an id is removing its object's storage. A lookup
// of an id nobody claimed reads one absent key: it writes nothing, so no storage comes into
// being, and the Session answers ERR AUTH without waking any Queue object.
//
// Costs (DO requests / rows written): lookup 1 / 0; claim 1 / 1; release 1 / 1 (the delete).
// The Queue object keeps the names of its index objects, to release them with LDEL, DEL and
// when a one-time invitation is consumed.
import { DurableObject } from "cloudflare:workers";
import { metrics } from "./metrics.js";

const KEY = "queue";

export class IdIndexDO extends DurableObject<Env> {
  /** The queue this id belongs to (its Queue object's name), or null. Writes nothing. */
  async lookup(): Promise<string | null> {
    metrics.rpc.indexLookup++;
    return this.read() ?? null;
  }

  /** The stored queue name. The synchronous KV API bills reads and writes as SQLite rows; counted as such. */
  private read(): string | undefined {
    metrics.rowsRead++;
    return this.ctx.storage.kv.get<string>(KEY);
  }

  /**
   * Makes the id lead to `queue`. True when it now does (also when it already did: a retried
   * claim is harmless); false when the id belongs to another queue.
   */
  async claim(queue: string): Promise<boolean> {
    metrics.rpc.indexClaim++;
    const current = this.read();
    if (current !== undefined) return current === queue;
    this.ctx.storage.kv.put(KEY, queue);
    metrics.rowsWritten++;
    return true;
  }

  /** Removes the id if it belongs to `queue` (never another queue's); frees the object's storage. */
  async release(queue: string): Promise<void> {
    metrics.rpc.indexRelease++;
    if (this.read() !== queue) return;
    metrics.rowsWritten++;
    await this.ctx.storage.deleteAll();
  }
}
