// From a command's entity id to the Queue object that owns it (WIRE.md 5.4, 6.13a).
//
// Relay-chosen ids open to their queue with no lookup (queueIds.ts). Ids a client chose (a sender
// id or link id given with NEW's link data, a link id set with LSET) are looked up in their index
// object (idIndex.ts): one DO request, before the block's commands run, so that commands for one
// queue keep their order whichever of its ids they name. A Session remembers what it looked up
// (a sender keeps sending to the same id); a remembered route the queue no longer answers to is
// looked up again once (routeAgain).
import { hex } from "../protocol/encoding.js";
import type { IdKind, IndexedKind, QueueIdCodec } from "./queueIds.js";

/** Which kind of id a command's entity must be: sender for SEND/SKEY, link for LGET/LKEY. */
export function entityKind(tag: string): IdKind {
  if (tag === "SEND" || tag === "SKEY") return "snd";
  if (tag === "LGET" || tag === "LKEY") return "link";
  return "rcv";
}

/** Where an entity id leads: its queue, and whether that came from a lookup remembered earlier. */
export interface Route {
  queue: string;
  remembered: boolean;
}

/** How many looked-up routes a Session remembers (oldest forgotten first). */
const REMEMBERED_MAX = 256;

/** A Session's looked-up routes, in memory only: hibernation forgets them, which costs a lookup. */
export class IndexRoutes {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly env: Env,
    private readonly ids: QueueIdCodec,
  ) {}

  /**
   * The queue an entity id of this kind leads to, or null (ERR AUTH): a sealed id of another kind,
   * a forged one, or a client-chosen id nobody holds. Only a client-chosen id costs a lookup.
   */
  async route(kind: IdKind, id: Uint8Array): Promise<Route | null> {
    if (id.length === 0) return null;
    const sealed = this.ids.open(id);
    if (sealed !== null) return sealed.kind === kind ? { queue: sealed.queue, remembered: false } : null;
    if (kind === "rcv") return null;
    const key = kind + hex(id);
    const queue = this.known.get(key);
    if (queue !== undefined) return { queue, remembered: true };
    return this.lookup(kind, id);
  }

  /** After a remembered route was refused: forget it and look the id up afresh. */
  async routeAgain(kind: IndexedKind, id: Uint8Array): Promise<Route | null> {
    this.known.delete(kind + hex(id));
    return this.lookup(kind, id);
  }

  private async lookup(kind: IndexedKind, id: Uint8Array): Promise<Route | null> {
    const queue = await this.env.ID_INDEX.getByName(this.ids.indexName(kind, id)).lookup();
    if (queue === null) return null;
    const key = kind + hex(id);
    if (this.known.size >= REMEMBERED_MAX) this.known.delete(this.known.keys().next().value as string);
    this.known.set(key, queue);
    return { queue, remembered: false };
  }
}
