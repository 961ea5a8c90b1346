// The reference model of delivery for test/worker/delivery-model.test.ts: what the relay must
// answer and push for each recipient and sender command, per WIRE.md 6.3-6.12 and 8 and the
// upstream functions they come from (simplexmq src/Simplex/Messaging/Server.hs, and the message
// store's writeMsg / tryDelMsg / tryDelPeekMsg / deleteExpiredMsgs).
//
// Pure TypeScript, no I/O. Connections and queues are small integers (slots); messages are named
// by labels: "m<seq>" for the SEND with sequence number seq (the test puts it in the body), and
// "Q<n>" for the n-th quota marker. The driver maps labels to the relay's random msgIds.
//
// Every command mutates the model and returns its Outcome: the reply to the command, then the
// pushes it causes (in the order they must reach each connection: a push always after the reply
// of the command that caused it, WIRE.md 8).

export type Label = string;

export interface StoredMessage {
  label: Label;
  /** The relay's "quota exceeded" marker (WIRE.md 6.6), not a SEND's message. */
  quota: boolean;
}

/** What one connection is to one queue (WIRE.md 10.1: subscribed queues, GET-mode markers). */
export type ConnMode = "none" | "sub" | "get";

export interface QueueState {
  /** DEL'd: every later command on its ids is ERR AUTH (WIRE.md 6.10). */
  deleted: boolean;
  /** OFF makes it "off" (suspended): SEND is refused, delivery continues (WIRE.md 6.10). */
  status: "active" | "off";
  /** The sender key set by KEY, by name ("k1", "k2"), or null (WIRE.md 6.4). */
  senderKey: string | null;
  /** Upstream QueueRec/MsgQueue `canWrite`: false from the quota marker until the queue is empty. */
  canWrite: boolean;
  /** Pending messages, oldest (the head) first. */
  msgs: StoredMessage[];
  /** The subscriber connection (upstream: the one client whose `subscriptions` holds the queue). */
  subscriber: number | null;
  /** The subscriber's `delivered` (upstream Sub.delivered): a label, possibly of a message gone. */
  delivered: Label | null;
}

export interface Model {
  /** QUEUE_QUOTA in force for the test's queues. */
  quota: number;
  queues: QueueState[];
  /** mode[conn][queue]. Invariant: "sub" exactly when the queue's subscriber is conn. */
  mode: ConnMode[][];
  /** getDelivered[conn][queue]: the `delivered` of a GET-mode connection (upstream ProhibitSub sub). */
  getDelivered: (Label | null)[][];
  /** Quota markers made so far (for their labels). */
  markers: number;
}

export type Reply = { tag: "OK" } | { tag: "SOK" } | { tag: "MSG"; label: Label } | { tag: "ERR"; code: string };
export type PushBody = { tag: "MSG"; label: Label } | { tag: "END" } | { tag: "DELD" };
export interface Push {
  to: number;
  queue: number;
  body: PushBody;
}

export interface Outcome {
  reply: Reply;
  pushes: Push[];
  /** Messages this command deleted by acknowledging them (for the delivery log). */
  acked: Label[];
  /** Messages this command made disappear undelivered by design (expiry, DEL). */
  gone: Label[];
}

/** How an ACK names its message. */
export type AckId = { label: Label } | { empty: true } | { unknown: true };

/** A SEND as the driver makes it. */
export interface SendSpec {
  seq: number;
  /** Body length; over MAX_BODY gets ERR LARGE_MSG. */
  size: number;
  /** Authorized as the queue requires (signed with its sender key iff it has one), or not. */
  authorized: boolean;
}

/** Largest SEND body, v11+ (WIRE.md 6.6). */
export const MAX_BODY = 16048;

const OK: Reply = { tag: "OK" };
const err = (code: string): Reply => ({ tag: "ERR", code });
const outcome = (reply: Reply, pushes: Push[] = [], acked: Label[] = [], gone: Label[] = []): Outcome => ({ reply, pushes, acked, gone });

export function newModel(conns: number, queues: number, quota: number): Model {
  return {
    quota,
    queues: Array.from({ length: queues }, () => ({
      deleted: false,
      status: "active" as const,
      senderKey: null,
      canWrite: true,
      msgs: [],
      subscriber: null,
      delivered: null,
    })),
    mode: Array.from({ length: conns }, () => Array.from({ length: queues }, () => "none" as ConnMode)),
    getDelivered: Array.from({ length: conns }, () => Array.from({ length: queues }, () => null)),
    markers: 0,
  };
}

export function cloneModel(m: Model): Model {
  return structuredClone(m);
}

const head = (q: QueueState): StoredMessage | undefined => q.msgs[0];
const msg = (s: StoredMessage): Reply & PushBody => ({ tag: "MSG", label: s.label });

/** The subscriber loses the queue (to another SUB, DEL or a closed socket): its mode is none. */
function dropSubscriber(m: Model, qi: number): void {
  const q = m.queues[qi]!;
  if (q.subscriber !== null) m.mode[q.subscriber]![qi] = "none";
  q.subscriber = null;
  q.delivered = null;
}

/** NEW (WIRE.md 6.2): subMode "S" makes the creating connection the subscriber, nothing delivered. */
export function create(m: Model, conn: number, qi: number, subscribe: boolean): void {
  if (!subscribe) return;
  m.queues[qi]!.subscriber = conn;
  m.mode[conn]![qi] = "sub";
}

/**
 * SUB (WIRE.md 6.3; upstream subscribeQueue / deliverMessage "SUB"). GET mode: PROHIBITED.
 * Otherwise this connection becomes the subscriber; the one before it, if another, gets END
 * (6.12). `delivered` is reset and the head, if any, is pushed after SOK and becomes delivered:
 * a re-SUB redelivers the head with the same msgId.
 */
export function sub(m: Model, conn: number, qi: number): Outcome {
  const q = m.queues[qi]!;
  if (q.deleted) return outcome(err("AUTH"));
  if (m.mode[conn]![qi] === "get") return outcome(err("CMD PROHIBITED"));
  const pushes: Push[] = [];
  if (q.subscriber !== null && q.subscriber !== conn) {
    pushes.push({ to: q.subscriber, queue: qi, body: { tag: "END" } });
    dropSubscriber(m, qi);
  }
  q.subscriber = conn;
  m.mode[conn]![qi] = "sub";
  q.delivered = null;
  const h = head(q);
  if (h) {
    q.delivered = h.label;
    pushes.push({ to: conn, queue: qi, body: msg(h) });
  }
  return outcome({ tag: "SOK" }, pushes);
}

/**
 * GET (WIRE.md 6.9; upstream getMessage). SUB mode: PROHIBITED. Otherwise the connection is in
 * GET mode; the reply is the head (now its delivered) or OK (delivered none) when empty.
 */
export function get(m: Model, conn: number, qi: number): Outcome {
  const q = m.queues[qi]!;
  if (q.deleted) return outcome(err("AUTH"));
  if (m.mode[conn]![qi] === "sub") return outcome(err("CMD PROHIBITED"));
  m.mode[conn]![qi] = "get";
  const h = head(q);
  m.getDelivered[conn]![qi] = h ? h.label : null;
  return outcome(h ? msg(h) : OK);
}

/**
 * ACK (WIRE.md 6.8; upstream acknowledgeMsg, its getDelivered, and the store's tryDelMsg for GET
 * mode / tryDelPeekMsg + deliverMessage "ACK" for SUB mode).
 * - no subscription or GET state here (also: taken over by another SUB): NO_MSG;
 * - nothing delivered, or a non-empty msgId that is not the delivered one: NO_MSG, unchanged;
 * - else delivered := none; the head is deleted only if its msgId is the ACK's (so an empty
 *   msgId, or the id of a message already gone, deletes nothing);
 * - GET mode: OK. SUB mode: the head now, if any, becomes delivered and is the reply (MSG with
 *   the ACK's corrId), else OK.
 */
export function ack(m: Model, conn: number, qi: number, id: AckId): Outcome {
  const q = m.queues[qi]!;
  if (q.deleted) return outcome(err("AUTH"));
  const mode = m.mode[conn]![qi]!;
  if (mode === "none") return outcome(err("NO_MSG"));
  const delivered = mode === "sub" ? q.delivered : m.getDelivered[conn]![qi]!;
  if (delivered === null) return outcome(err("NO_MSG"));
  // The msgId the ACK names; null for an empty one (which names whatever was delivered).
  const named: Label | null = "label" in id ? id.label : null;
  if (!("empty" in id) && named !== delivered) return outcome(err("NO_MSG"));
  if (mode === "sub") q.delivered = null;
  else m.getDelivered[conn]![qi] = null;
  const acked: Label[] = [];
  const h = head(q);
  if (h && named !== null && h.label === named) {
    q.msgs.shift();
    acked.push(h.label);
  }
  if (mode === "get") return outcome(OK, [], acked);
  const next = head(q);
  if (!next) return outcome(OK, [], acked);
  q.delivered = next.label;
  return outcome(msg(next), [], acked);
}

/**
 * SEND (WIRE.md 6.6; upstream sendMessage, the store's writeMsg, tryDeliverMessage).
 * Deleted or unauthorized: AUTH; then body over 16048: LARGE_MSG; then suspended: AUTH. Expired messages are
 * already gone in this model (see expire). Then writeMsg: unless canWrite or the queue is
 * empty, QUOTA; else at QUEUE_QUOTA messages (the marker counts) store a quota marker,
 * canWrite := false, QUOTA; else store the message, canWrite := true, OK, and if the queue was
 * empty and its subscriber has nothing delivered, push the message to it (now delivered).
 */
export function send(m: Model, qi: number, s: SendSpec): Outcome {
  const q = m.queues[qi]!;
  // Authorization first (verifyTransmission), then the length, then the status (sendMessage).
  if (q.deleted || !s.authorized) return outcome(err("AUTH"));
  if (s.size > MAX_BODY) return outcome(err("LARGE_MSG"));
  if (q.status === "off") return outcome(err("AUTH"));
  const wasEmpty = q.msgs.length === 0;
  if (!(q.canWrite || wasEmpty)) return outcome(err("QUOTA"));
  if (q.msgs.length >= m.quota) {
    q.msgs.push({ label: `Q${++m.markers}`, quota: true });
    q.canWrite = false;
    return outcome(err("QUOTA"));
  }
  const stored: StoredMessage = { label: `m${s.seq}`, quota: false };
  q.msgs.push(stored);
  q.canWrite = true;
  const pushes: Push[] = [];
  if (wasEmpty && q.subscriber !== null && q.delivered === null) {
    q.delivered = stored.label;
    pushes.push({ to: q.subscriber, queue: qi, body: msg(stored) });
  }
  return outcome(OK, pushes);
}

/** OFF (WIRE.md 6.10; upstream suspendQueue_): OK, also when already off; delivery goes on. */
export function off(m: Model, qi: number): Outcome {
  const q = m.queues[qi]!;
  if (q.deleted) return outcome(err("AUTH"));
  q.status = "off";
  return outcome(OK);
}

/**
 * DEL (WIRE.md 6.10, 6.12; upstream delQueueAndMsgs): OK; a subscriber that is another
 * connection gets DELD; the messages are gone; every later command: AUTH.
 */
export function del(m: Model, conn: number, qi: number): Outcome {
  const q = m.queues[qi]!;
  if (q.deleted) return outcome(err("AUTH"));
  const pushes: Push[] = [];
  if (q.subscriber !== null && q.subscriber !== conn) pushes.push({ to: q.subscriber, queue: qi, body: { tag: "DELD" } });
  const gone = q.msgs.filter((x) => !x.quota).map((x) => x.label);
  dropSubscriber(m, qi);
  for (const modes of m.mode) modes[qi] = "none";
  q.deleted = true;
  q.msgs = [];
  return outcome(OK, pushes, [], gone);
}

/** KEY (WIRE.md 6.4; upstream secureQueue_): set once; the same key again is OK, another AUTH. */
export function key(m: Model, qi: number, k: string): Outcome {
  const q = m.queues[qi]!;
  if (q.deleted) return outcome(err("AUTH"));
  if (q.senderKey !== null && q.senderKey !== k) return outcome(err("AUTH"));
  q.senderKey = k;
  return outcome(OK);
}

/**
 * Expiry (WIRE.md 9, MESSAGE_TTL_SECONDS; upstream deleteExpireMsgs_ in MsgStore/Types.hs): the
 * oldest `count` messages pass their expiry. Upstream's loop deletes expired `Message`s from the
 * head and stops at anything else, so a quota marker never expires (and it is always last: after
 * it nothing is written until the queue is empty). Whether the Queue object's alarm removes them
 * or a later read does, no command can see them again, so the model drops them now. Nobody's
 * `delivered` changes: an ACK of an expired delivered message deletes nothing and delivers the
 * head.
 */
export function expire(m: Model, qi: number, count: number): Outcome {
  const q = m.queues[qi]!;
  const gone: Label[] = [];
  while (gone.length < count && q.msgs[0] && !q.msgs[0].quota) gone.push(q.msgs.shift()!.label);
  return outcome(OK, [], [], gone);
}

/**
 * The connection's socket closed (WIRE.md 8): its subscriptions end silently (no END to anyone),
 * its GET state goes; the slot is then a fresh connection with no mode anywhere. A later SEND is
 * not pushed to it; what it had delivered stays pending for the next SUB.
 */
export function close(m: Model, conn: number): void {
  m.queues.forEach((q, qi) => {
    if (q.subscriber === conn) dropSubscriber(m, qi);
  });
  m.mode[conn] = m.mode[conn]!.map(() => "none");
  m.getDelivered[conn] = m.getDelivered[conn]!.map(() => null);
}

/** The model's own invariants; a failure here is a bug in the model, not in the relay. */
export function checkInvariants(m: Model): void {
  m.queues.forEach((q, qi) => {
    m.mode.forEach((modes, c) => {
      if ((modes[qi] === "sub") !== (q.subscriber === c)) throw new Error(`model: conn ${c} mode ${modes[qi]} but subscriber of q${qi} is ${q.subscriber}`);
    });
    // WIRE.md 8, one outstanding message per subscription: a subscriber with nothing delivered
    // and a non-empty queue would be stuck forever.
    if (q.subscriber !== null && q.delivered === null && q.msgs.length > 0) {
      throw new Error(`model: subscriber c${q.subscriber} of q${qi} has nothing delivered but ${q.msgs.length} pending`);
    }
  });
}

/** A line of text for reports: the queue's state. */
export function describeQueue(m: Model, qi: number): string {
  const q = m.queues[qi]!;
  if (q.deleted) return `q${qi}: deleted`;
  const modes = m.mode.map((ms, c) => `c${c}:${ms[qi]}${ms[qi] === "get" ? `(${m.getDelivered[c]![qi] ?? "-"})` : ""}`).join(" ");
  return `q${qi}: [${q.msgs.map((x) => x.label).join(" ")}] ${q.status}${q.canWrite ? "" : " !canWrite"} key=${q.senderKey ?? "-"} sub=${q.subscriber === null ? "-" : `c${q.subscriber}`} delivered=${q.delivered ?? "-"} ${modes}`;
}
