// QUE → INFO (WIRE.md 6.11; upstream getQueueInfo): the queue as one connection sees it.
import type { ServerResponse } from "../protocol/commands.js";
import { base64 } from "../protocol/base64.js";
import type { ConnQueue } from "./queue.js";
import type { MessageRow, QueueRecord } from "./queueStore.js";

/**
 * The INFO reply: sender key set, no notifier, this connection's own subscription view (qiSub:
 * `prohibitSub` for a GET reader, `noSub` for the current subscriber, with what it was delivered),
 * the number of stored messages and the head (`head`, already expired as of now; `size` counts it).
 */
export function queueInfo(q: QueueRecord, conn: ConnQueue | null, session: string, head: MessageRow | null, size: number): ServerResponse {
  const info: Record<string, unknown> = { qiSnd: q.snd_key !== null, qiNtf: false };
  if (conn?.mode === "get") {
    info.qiSub = { qSubThread: "prohibitSub", ...(conn.delivered ? { qDelivered: base64.encode(conn.delivered) } : {}) };
  } else if (conn?.mode === "sub" && q.subscriber === session && q.sub_gen === conn.gen) {
    const delivered = q.delivered ?? head?.msg_id ?? null;
    info.qiSub = { qSubThread: "noSub", ...(delivered ? { qDelivered: base64.encode(delivered) } : {}) };
  }
  info.qiSize = size;
  if (head) {
    info.qiMsg = {
      msgId: base64.encode(head.msg_id),
      msgTs: new Date(head.ts * 1000).toISOString().replace(".000Z", "Z"),
      msgType: head.quota ? "quota" : "message",
    };
  }
  return { tag: "INFO", json: JSON.stringify(info) };
}
