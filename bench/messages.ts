// The scenarios of the bench's message phases: what a delivered message costs in Durable Object
// requests and SQLite rows (the relay's counters: counters.ts) and how long it takes from SEND to
// the MSG on the recipient's connection. See bench/README.md.
import type { SMPClient } from "../src/client/client.js";
import {
  ack,
  createQueue,
  deliveries,
  getMessage,
  secureSenderQueue,
  sendMessage,
  subscribe,
  type DeliveryStream,
  type MessageBody,
  type RecipientQueue,
} from "../src/client/queues.js";
import { decodeBatch } from "../src/protocol/batch.js";
import { hex } from "../src/protocol/encoding.js";
import { decodeClientTransmission } from "../src/protocol/transmission.js";
import { generateX25519, type X25519KeyPair } from "../src/crypto/x25519.js";
import WebSocket from "ws";
import type { Counters } from "./counters.js";

// ---- Scenarios ----

export interface Pair {
  sender: SMPClient;
  recipient: SMPClient;
  /** All deliveries on the recipient's connection, created before any SUB. */
  stream: DeliveryStream;
  /**
   * When each MSG reached the recipient's connection (performance.now(), by msgId in hex):
   * recorded in the client's frame handler, before anything awaits, so the latency samples do
   * not depend on when the loop gets to read the stream.
   */
  arrivals: Map<string, number>;
  /**
   * The same MSGs at the wire (by msgId): when the frame that carried them reached the
   * recipient's socket, before the client decrypted it. Empty without timed sockets.
   */
  wireArrivals: Map<string, number>;
  /**
   * When the block carrying the latest SEND to each queue (by sndId in hex) left the sender's
   * socket, after the client signed and encrypted it. Empty without timed sockets.
   */
  wireSent: Map<string, number>;
}

/**
 * The `ws` WebSocket with timestamps for the bench: when each frame arrived (before the client's
 * own handler runs) and a hook on every send. Pass it as the client's WebSocket; `TimedWebSocket.last`
 * is the one the latest connect() made.
 */
export class TimedWebSocket extends WebSocket {
  static last: TimedWebSocket | null = null;
  /** performance.now() when the frame being handled arrived. */
  lastFrameAt = 0;
  onSend: (() => void) | null = null;

  constructor(url: string) {
    super(url, { perMessageDeflate: false });
    TimedWebSocket.last = this;
    // Registered before the client's listeners, so it runs first.
    this.on("message", () => {
      this.lastFrameAt = performance.now();
    });
  }

  override send(data: Parameters<WebSocket["send"]>[0], ...rest: unknown[]): void {
    this.onSend?.();
    (super.send as (...a: unknown[]) => void)(data, ...rest);
  }
}

/** A queue of the bench: secured by the sender (SKEY), as every queue is before messages flow. */
export interface BenchQueue {
  q: RecipientQueue;
  /** Signs the SENDs. */
  senderKey: X25519KeyPair;
}

/** SEND, signed with the key the sender secured the queue with. */
function send(p: Pair, bq: BenchQueue, b: Uint8Array): Promise<void> {
  return sendMessage(p.sender, bq.q.sndId, b, { senderKey: bq.senderKey });
}

/** A MSG read from the stream: a message, not a quota marker. */
interface Msg {
  rcvId: Uint8Array;
  message: MessageBody;
  /** When it reached the connection. */
  at: number;
  /** When its frame reached the socket (NaN without timed sockets). */
  wireAt: number;
}

export interface LoopResult {
  /** Messages delivered (MSG read from the stream) and acknowledged. */
  completed: number;
  note?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Smallest body: room for the "qi:seq " tag. */
export const MIN_BODY = 16;

/** A body of `size` bytes (at least MIN_BODY) that starts with "qi:seq ", so order and routing can be checked. */
function body(qi: number, seq: number, size: number): Uint8Array {
  const b = new Uint8Array(Math.max(size, MIN_BODY)).fill(0x2e);
  b.set(encoder.encode(`${qi}:${seq} `).subarray(0, MIN_BODY));
  return b;
}

function tagOf(b: Uint8Array): string {
  const head = decoder.decode(b.subarray(0, 24));
  return head.slice(0, head.indexOf(" "));
}

/** The next MSG on the stream, or null at the deadline; anything else is an error. */
async function nextMsg(p: Pair, deadline: number): Promise<Msg | null> {
  const left = deadline - performance.now();
  if (left <= 0) return null;
  let d;
  try {
    d = await p.stream.read(Math.min(left, 20_000));
  } catch (e) {
    if (performance.now() >= deadline) return null;
    throw e;
  }
  if (d === null) throw new Error("the recipient's connection ended");
  if (d.type !== "MSG") throw new Error(`expected MSG, got ${d.type}${d.type === "ERROR" ? `: ${d.error.message}` : ""}`);
  if (d.message.quota) throw new Error("quota marker: the queue filled up");
  const key = hex(d.message.msgId);
  const at = p.arrivals.get(key) ?? performance.now();
  const wireAt = p.wireArrivals.get(key) ?? NaN;
  p.arrivals.delete(key);
  p.wireArrivals.delete(key);
  return { rcvId: d.rcvId, message: d.message, at, wireAt };
}

/**
 * The wire-to-wire time of a delivered message: its SEND's block leaving the sender's socket →
 * the MSG's frame reaching the recipient's (the client's own work on both ends left out, as in
 * the baselines, whose clients have none). One message outstanding per queue, so the queue's
 * latest SEND is this message's.
 */
function pushWire(p: Pair, bq: BenchQueue, d: Msg, wireSamples: number[]): void {
  const sent = p.wireSent.get(hex(bq.q.sndId));
  if (sent !== undefined && Number.isFinite(d.wireAt) && d.wireAt >= sent) wireSamples.push(d.wireAt - sent);
}

/**
 * New queues on the recipient's connection, subscribed or not, each secured by the sender's
 * connection with SKEY; `parallel` at a time.
 */
export async function makeQueues(p: Pair, n: number, subscribed: boolean, parallel = 20): Promise<BenchQueue[]> {
  const one = async (): Promise<BenchQueue> => {
    const [q, senderKey] = await Promise.all([createQueue(p.recipient, { subscribe: subscribed }), generateX25519()]);
    await secureSenderQueue(p.sender, q.sndId, senderKey);
    return { q, senderKey };
  };
  const out: BenchQueue[] = [];
  while (out.length < n) out.push(...(await Promise.all(Array.from({ length: Math.min(parallel, n - out.length) }, one))));
  return out;
}

/**
 * One queue, one message at a time: SEND, wait for the pushed MSG, ACK (reply OK: the queue is
 * empty again), repeat. Samples: SEND called → MSG reached the recipient's connection.
 */
export async function steadyStream(
  p: Pair,
  bq: BenchQueue,
  n: number,
  size: number,
  deadline: number,
  samples: number[],
  wireSamples: number[] = [],
): Promise<LoopResult> {
  let i = 0;
  for (; i < n && performance.now() < deadline; i++) {
    const t = performance.now();
    const [, d] = await Promise.all([send(p, bq, body(0, i, size)), nextMsg(p, deadline)]);
    if (d === null) break;
    samples.push(d.at - t);
    pushWire(p, bq, d, wireSamples);
    if (tagOf(d.message.body) !== `0:${i}`) throw new Error(`steady stream: message ${i} arrived out of order`);
    const r = await ack(p.recipient, bq.q, d.message.msgId);
    if (r !== null) throw new Error("steady stream: an ACK brought another message (the queue should be empty)");
  }
  return { completed: i };
}

/**
 * Warm-up for a subscribed queue: a few messages through the steady-stream loop, so its object
 * is awake and its expiry alarm set (that setAlarm is once per queue, not per message).
 */
export async function warmQueue(p: Pair, bq: BenchQueue, n: number, size: number): Promise<void> {
  const r = await steadyStream(p, bq, n, size, performance.now() + 30_000, []);
  if (r.completed < n) throw new Error("warm-up of a queue timed out");
}

/**
 * The same for a queue nobody is subscribed to, read with GET + ACK on a third connection (a
 * connection that GETs a queue may not SUB it later, so the recipient's own cannot do it).
 */
export async function warmUnsubscribedQueue(p: Pair, reader: SMPClient, bq: BenchQueue, n: number, size: number): Promise<void> {
  const q = bq.q;
  for (let i = 0; i < n; i++) {
    await send(p, bq, body(0, i, size));
    const m = await getMessage(reader, q);
    if (m === null || m.quota || tagOf(m.body) !== `0:${i}`) throw new Error("warm-up of an unsubscribed queue: GET did not return the message just sent");
    if ((await ack(reader, q, m.msgId)) !== null) throw new Error("warm-up of an unsubscribed queue: the queue is not empty");
  }
}

export interface BacklogResult extends LoopResult {
  /** Messages SENT (all before SUB). */
  sent: number;
  /** Counters right after the SENDs, before SUB. */
  afterSends: Counters | null;
}

/**
 * K SENDs to a queue nobody is subscribed to, then SUB and drain: SOK's push brings the first
 * message, each ACK's reply the next. No samples (delivery waits for SUB by design).
 */
export async function backlog(
  p: Pair,
  bq: BenchQueue,
  k: number,
  size: number,
  deadline: number,
  counters: () => Promise<Counters>,
): Promise<BacklogResult> {
  let sent = 0;
  for (; sent < k && performance.now() < deadline; sent++) await send(p, bq, body(0, sent, size));
  const afterSends = await counters();
  const q = bq.q;
  await subscribe(p.recipient, q);
  let got = 0;
  const acks: Promise<unknown>[] = [];
  while (got < sent) {
    const d = await nextMsg(p, deadline);
    if (d === null) break;
    if (tagOf(d.message.body) !== `0:${got}`) throw new Error(`backlog: message ${got} arrived out of order`);
    got++;
    // The reply to this ACK carries the next message, which the stream yields too.
    acks.push(ack(p.recipient, q, d.message.msgId));
  }
  await Promise.all(acks);
  return { completed: got, sent, afterSends, note: sent < k ? `only ${sent} of ${k} sent before the time limit` : undefined };
}

/**
 * `queues.length` queues in flight at once, `total` messages spread over them. Per queue, one
 * message outstanding: the next SEND goes out as soon as the previous MSG arrives, together
 * with its ACK, so the next message reaches the recipient either pushed (ACK first) or as the
 * ACK's reply (SEND first). One sender and one recipient connection carry all queues.
 * Samples: SEND called → MSG reached the recipient's connection.
 */
export async function throughput(
  p: Pair,
  queues: BenchQueue[],
  total: number,
  size: number,
  deadline: number,
  samples: number[],
  wireSamples: number[] = [],
): Promise<LoopResult> {
  const share = (i: number): number => Math.floor(total / queues.length) + (i < total % queues.length ? 1 : 0);
  const state = queues.map((bq, i) => ({ bq, q: bq.q, quota: share(i), sent: 0, received: 0, t0: 0 }));
  const byId = new Map(state.map((s) => [hex(s.q.rcvId), s]));
  const failures: unknown[] = [];
  const pending = new Set<Promise<unknown>>();
  const track = (pr: Promise<unknown>): void => {
    const t = pr.catch((e: unknown) => void failures.push(e)).finally(() => pending.delete(t));
    pending.add(t);
  };
  const sendNext = (s: (typeof state)[number]): void => {
    const qi = state.indexOf(s);
    s.t0 = performance.now();
    track(send(p, s.bq, body(qi, s.sent, size)));
    s.sent++;
  };
  // The first message of every queue, all at once.
  for (const s of state) if (s.quota > 0) sendNext(s);
  let received = 0;
  while (received < total && failures.length === 0) {
    const d = await nextMsg(p, deadline);
    if (d === null) break;
    const s = byId.get(hex(d.rcvId));
    if (!s) throw new Error("throughput: MSG for a queue of another phase");
    samples.push(d.at - s.t0);
    pushWire(p, s.bq, d, wireSamples);
    const qi = state.indexOf(s);
    if (tagOf(d.message.body) !== `${qi}:${s.received}`) throw new Error(`throughput: queue ${qi} message ${s.received} arrived out of order`);
    s.received++;
    received++;
    track(ack(p.recipient, s.q, d.message.msgId));
    if (s.sent < s.quota) sendNext(s);
  }
  // Every reply in before the window closes (bounded: each command has its own timeout).
  await Promise.all([...pending]);
  if (failures.length > 0) throw failures[0] instanceof Error ? failures[0] : new Error(String(failures[0]));
  return { completed: received };
}

/**
 * Deliveries of the recipient's connection; made before any queue is created or subscribed.
 * With the connections' timed sockets, also the wire timestamps (see Pair): the sender's
 * client is hooked where it writes a block (SMPClient.writeBlock, internal), so each SEND is
 * stamped when the block that carries it leaves the socket.
 */
export function pairOf(sender: SMPClient, recipient: SMPClient, sockets?: { sender: TimedWebSocket; recipient: TimedWebSocket }): Pair {
  const stream = deliveries(recipient);
  const arrivals = new Map<string, number>();
  const wireArrivals = new Map<string, number>();
  const wireSent = new Map<string, number>();
  recipient.onPush((push) => {
    if (push.response.tag !== "MSG") return;
    const key = hex(push.response.msgId);
    arrivals.set(key, performance.now());
    if (sockets) wireArrivals.set(key, sockets.recipient.lastFrameAt);
  });
  const internals = sender as unknown as { writeBlock?: (content: Uint8Array) => void };
  if (sockets && typeof internals.writeBlock === "function") {
    const writeBlock = internals.writeBlock.bind(sender);
    const queued: string[] = [];
    internals.writeBlock = (content: Uint8Array): void => {
      try {
        for (const t of decodeBatch(content)) {
          const tr = decodeClientTransmission(t);
          if (decoder.decode(tr.command.subarray(0, 5)) === "SEND ") queued.push(hex(tr.entityId));
        }
      } catch {
        // not ours to judge
      }
      writeBlock(content);
    };
    sockets.sender.onSend = () => {
      const at = performance.now();
      for (const id of queued) wireSent.set(id, at);
      queued.length = 0;
    };
  }
  return { sender, recipient, stream, arrivals, wireArrivals, wireSent };
}
