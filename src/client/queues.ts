// High-level queue API over SMPClient (WIRE.md 6–8): every queue command as a function that takes
// the client, decryption of delivered messages (WIRE.md 7), and deliveries as an async iterator.
//
// Keys are X25519 throughout, as smp-web uses them: the recipient authorizes with its rcvAuthKey
// (an X25519 authenticator), the sender with the key it secured the queue with.
import type { IdsResponse, QueueMode, QueueReqData, ServerResponse } from "../protocol/commands.js";
import { asciiBytes, bytesToAscii, Decoder, hex } from "../protocol/encoding.js";
import { unpad } from "../protocol/padding.js";
import { decodePublicKey, encodePublicKey } from "../crypto/keys.js";
import { cryptoBoxOpen } from "../crypto/secretbox.js";
import { generateX25519, x25519, type X25519KeyPair } from "../crypto/x25519.js";
import type { CommandAuth, SMPClient } from "./client.js";
import { TimeoutError } from "./errors.js";

/** Everything the recipient keeps about a queue it created. */
export interface RecipientQueue {
  rcvId: Uint8Array;
  sndId: Uint8Array;
  mode: QueueMode;
  /**
   * Authorizes the recipient's commands (NEW, SUB, KEY, ACK, GET, OFF, DEL, QUE, and LSET, LDEL,
   * RKEY); setRecipientKeys replaces it with the first of the new keys.
   */
  rcvAuthKey: X25519KeyPair;
  /** Our half of the per-queue DH (WIRE.md 7). */
  rcvDhKey: X25519KeyPair;
  /** The relay's half, 44-byte DER X25519 from IDS. */
  srvDhKey: Uint8Array;
  /** X25519(rcvDhKey.privateKey, raw srvDhKey): opens delivered message bodies. */
  dhSecret: Uint8Array;
  /** The queue's short-link id (24 bytes), when it was created with link data (links.ts, WIRE.md 6.13a). */
  linkId?: Uint8Array;
}

/** A delivered message, decrypted. `timestamp` is the relay's receive time in Unix seconds. */
export interface MessageBody {
  msgId: Uint8Array;
  timestamp: number;
  quota?: false;
  notify: boolean;
  body: Uint8Array;
}

/** The marker the relay leaves when a SEND was refused with ERR QUOTA. */
export interface QuotaMarker {
  msgId: Uint8Array;
  timestamp: number;
  quota: true;
}

export type ReceivedMessage = MessageBody | QuotaMarker;

/** The INFO reply to QUE (WIRE.md 6.11). */
export interface QueueInfo {
  qiSnd: boolean;
  qiNtf: boolean;
  qiSub?: { qSubThread: "noSub" | "subPending" | "subThread" | "prohibitSub"; qDelivered?: string };
  qiSize: number;
  qiMsg?: { msgId: string; msgTs: string; msgType: "message" | "quota" };
}

/** A message body that does not open with the queue's DH secret, or does not parse once opened. */
export class MessageDecryptionError extends Error {
  override readonly name = "MessageDecryptionError";
}

/** An INFO reply whose JSON is not the queue information QUE returns. */
export class QueueInfoError extends Error {
  override readonly name = "QueueInfoError";
}

/** A reply the command does not allow (e.g. IDS to SUB), or one whose content is wrong (`detail` says how). */
export class UnexpectedReplyError extends Error {
  override readonly name = "UnexpectedReplyError";
  constructor(
    readonly command: string,
    readonly reply: ServerResponse,
    detail?: string,
  ) {
    super(`unexpected reply to ${command}: ${reply.tag}${detail === undefined ? "" : ` (${detail})`}`);
  }
}

// ---- Queues known per connection, so pushed MSGs can be decrypted ----

const known = new WeakMap<SMPClient, Map<string, RecipientQueue>>();

/** Lets `deliveries` decrypt this queue's messages on this connection (createQueue, subscribe, getMessage and ack do it). */
export function register(client: SMPClient, q: RecipientQueue): void {
  let m = known.get(client);
  if (!m) known.set(client, (m = new Map()));
  m.set(hex(q.rcvId), q);
}

function knownQueue(client: SMPClient, rcvId: Uint8Array): RecipientQueue | undefined {
  return known.get(client)?.get(hex(rcvId));
}

// Shared with links.ts (not exported from the package).
const EMPTY = new Uint8Array(0);
/** @internal The authorization of the queue's recipient commands: its current rcvAuthKey. */
export const rcvAuth = (q: RecipientQueue): CommandAuth => ({ x25519PrivateKey: q.rcvAuthKey.privateKey });
/** @internal A raw 32-byte X25519 public key as the 44-byte DER that commands carry. */
export const derX25519 = (raw: Uint8Array): Uint8Array => encodePublicKey({ alg: "x25519", raw });

/** @internal */
export function expectOk(command: string, r: ServerResponse): void {
  if (r.tag !== "OK") throw new UnexpectedReplyError(command, r);
}

// ---- Commands ----

export interface CreateQueueOptions {
  /** Subscribe this connection right away (subMode "S"); default true. */
  subscribe?: boolean;
  /** The relay's queue-creation password, if it requires one. */
  basicAuth?: string;
  /** "M" messaging (the sender may secure it with SKEY) or "C" contact; default "M". */
  mode?: QueueMode;
}

/** NEW → IDS: creates a queue with fresh X25519 auth and DH keys. */
export async function createQueue(client: SMPClient, opts: CreateQueueOptions = {}): Promise<RecipientQueue> {
  const { subscribe = true, basicAuth, mode = "M" } = opts;
  const { queue } = await newQueue(client, { subscribe, basicAuth, queueReqData: { mode, link: null } });
  register(client, queue);
  return queue;
}

/**
 * @internal NEW with fresh keys → the queue and the IDS it came from (for the caller's checks;
 * not registered yet). `corrId`: see RequestOptions. ERR → SMPProtocolError, another reply →
 * UnexpectedReplyError, a srvDhKey that is not DER X25519 → Error.
 */
export async function newQueue(
  client: SMPClient,
  opts: { subscribe: boolean; basicAuth: string | undefined; queueReqData: QueueReqData; corrId?: Uint8Array },
): Promise<{ queue: RecipientQueue; ids: IdsResponse }> {
  const [rcvAuthKey, rcvDhKey] = await Promise.all([generateX25519(), generateX25519()]);
  const r = await client.command(
    EMPTY,
    {
      tag: "NEW",
      rcvAuthKey: derX25519(rcvAuthKey.publicKey),
      rcvDhKey: derX25519(rcvDhKey.publicKey),
      basicAuth: opts.basicAuth === undefined ? null : asciiBytes(opts.basicAuth),
      subscribe: opts.subscribe,
      queueReqData: opts.queueReqData,
      ntfCreds: null,
    },
    { x25519PrivateKey: rcvAuthKey.privateKey },
    { corrId: opts.corrId },
  );
  if (r.tag !== "IDS") throw new UnexpectedReplyError("NEW", r);
  const srv = decodePublicKey(r.srvDhKey);
  if (srv === null || srv.alg !== "x25519") throw new Error("relay's srvDhKey is not a DER X25519 key");
  const queue: RecipientQueue = {
    rcvId: r.rcvId,
    sndId: r.sndId,
    mode: r.queueMode ?? opts.queueReqData.mode,
    rcvAuthKey,
    rcvDhKey,
    srvDhKey: r.srvDhKey,
    dhSecret: await x25519(rcvDhKey.privateKey, srv.raw),
  };
  return { queue, ids: r };
}

/** KEY: the recipient secures the queue with the sender's public key (44-byte DER). */
export async function secureQueue(client: SMPClient, q: RecipientQueue, senderPublicKeyDer: Uint8Array): Promise<void> {
  expectOk("KEY", await client.command(q.rcvId, { tag: "KEY", senderKey: senderPublicKeyDer }, rcvAuth(q)));
}

/** SKEY: the sender secures a messaging queue with its own key, proving it holds it. */
export async function secureSenderQueue(client: SMPClient, sndId: Uint8Array, senderKey: X25519KeyPair): Promise<void> {
  const r = await client.command(sndId, { tag: "SKEY", senderKey: derX25519(senderKey.publicKey) }, { x25519PrivateKey: senderKey.privateKey });
  expectOk("SKEY", r);
}

export interface SendOptions {
  /** The notification flag ("T"/"F"); default true. */
  notify?: boolean;
  /** The key the queue was secured with; without it the SEND is unsigned (unsecured queues). */
  senderKey?: Pick<X25519KeyPair, "privateKey">;
}

/** SEND → OK. */
export async function sendMessage(client: SMPClient, sndId: Uint8Array, body: Uint8Array, opts: SendOptions = {}): Promise<void> {
  const { notify = true, senderKey } = opts;
  const auth = senderKey ? { x25519PrivateKey: senderKey.privateKey } : undefined;
  expectOk("SEND", await client.command(sndId, { tag: "SEND", notify, body }, auth));
}

/**
 * SUB → SOK. A pending message follows as a push: read it from `deliveries` or `messages`,
 * created before calling this so the push cannot be missed.
 */
export async function subscribe(client: SMPClient, q: RecipientQueue): Promise<void> {
  register(client, q);
  const r = await client.command(q.rcvId, { tag: "SUB" }, rcvAuth(q));
  if (r.tag !== "SOK" && r.tag !== "OK") throw new UnexpectedReplyError("SUB", r);
}

function messageReply(command: string, q: RecipientQueue, r: ServerResponse): ReceivedMessage | null {
  if (r.tag === "OK") return null;
  if (r.tag !== "MSG") throw new UnexpectedReplyError(command, r);
  return decryptMessage(q, r.msgId, r.body);
}

/** GET: the next message without subscribing, or null when the queue is empty. */
export async function getMessage(client: SMPClient, q: RecipientQueue): Promise<ReceivedMessage | null> {
  register(client, q);
  return messageReply("GET", q, await client.command(q.rcvId, { tag: "GET" }, rcvAuth(q)));
}

/**
 * ACK: deletes the delivered message. Returns the next message when the relay replies with it
 * (subscribed connections), else null. That MSG also reaches `deliveries`/`messages`: a loop that
 * reads those should ignore this return value.
 */
export async function ack(client: SMPClient, q: RecipientQueue, msgId: Uint8Array): Promise<ReceivedMessage | null> {
  register(client, q);
  return messageReply("ACK", q, await client.command(q.rcvId, { tag: "ACK", msgId }, rcvAuth(q)));
}

/** OFF: suspends the queue; later SENDs get ERR AUTH. Repeatable. */
export async function suspend(client: SMPClient, q: RecipientQueue): Promise<void> {
  expectOk("OFF", await client.command(q.rcvId, { tag: "OFF" }, rcvAuth(q)));
}

/** DEL: deletes the queue and its messages. */
export async function deleteQueue(client: SMPClient, q: RecipientQueue): Promise<void> {
  expectOk("DEL", await client.command(q.rcvId, { tag: "DEL" }, rcvAuth(q)));
}

/** QUE → INFO, parsed. */
export async function queueInfo(client: SMPClient, q: RecipientQueue): Promise<QueueInfo> {
  const r = await client.command(q.rcvId, { tag: "QUE" }, rcvAuth(q));
  if (r.tag !== "INFO") throw new UnexpectedReplyError("QUE", r);
  return parseQueueInfo(r.json);
}

/** The INFO JSON, checked; QueueInfoError when it is not JSON or not of that shape. */
export function parseQueueInfo(json: string): QueueInfo {
  const bad = (what: string): never => {
    throw new QueueInfoError(`INFO: ${what}: ${json}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    return bad(`not JSON (${(e as Error).message})`);
  }
  const obj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  if (!obj(v)) return bad("not an object");
  if (typeof v.qiSnd !== "boolean" || typeof v.qiNtf !== "boolean") bad("qiSnd/qiNtf must be booleans");
  if (typeof v.qiSize !== "number" || !Number.isInteger(v.qiSize)) bad("qiSize must be an integer");
  if (v.qiSub !== undefined) {
    const s = v.qiSub;
    if (!obj(s) || !["noSub", "subPending", "subThread", "prohibitSub"].includes(s.qSubThread as string)) bad("bad qiSub");
    else if (s.qDelivered !== undefined && typeof s.qDelivered !== "string") bad("bad qiSub.qDelivered");
  }
  if (v.qiMsg !== undefined) {
    const m = v.qiMsg;
    if (!obj(m) || typeof m.msgId !== "string" || typeof m.msgTs !== "string" || (m.msgType !== "message" && m.msgType !== "quota")) {
      bad("bad qiMsg");
    }
  }
  return v as unknown as QueueInfo;
}

// ---- Message decryption (WIRE.md 7) ----

const QUOTA_PREFIX = "QUOTA ";

/**
 * Opens a delivered body: cryptoBox with the queue's DH secret and nonce = msgId, unpad, then
 * either `Int64 ts ‖ flag ‖ " " ‖ body` or the quota marker `"QUOTA " ‖ Int64 ts`.
 */
export function decryptMessage(q: Pick<RecipientQueue, "dhSecret">, msgId: Uint8Array, encryptedBody: Uint8Array): ReceivedMessage {
  const padded = cryptoBoxOpen(q.dhSecret, msgId, encryptedBody);
  if (padded === null) {
    throw new MessageDecryptionError(`message ${hex(msgId)} does not open with this queue's DH secret (${encryptedBody.length} bytes)`);
  }
  try {
    const plain = unpad(padded);
    if (plain.length === QUOTA_PREFIX.length + 8 && bytesToAscii(plain.subarray(0, QUOTA_PREFIX.length)) === QUOTA_PREFIX) {
      return { msgId, timestamp: Number(new Decoder(plain.subarray(QUOTA_PREFIX.length)).int64()), quota: true };
    }
    const d = new Decoder(plain);
    const timestamp = Number(d.int64());
    const flag = d.byte();
    if (flag !== 0x54 && flag !== 0x46) throw new Error(`bad flag byte 0x${flag.toString(16)}`);
    d.space();
    return { msgId, timestamp, notify: flag === 0x54, body: d.tail() };
  } catch (e) {
    throw new MessageDecryptionError(`message ${hex(msgId)} opened but does not parse: ${(e as Error).message}`);
  }
}

// ---- Deliveries ----

export type Delivery =
  | { type: "MSG"; rcvId: Uint8Array; queue: RecipientQueue; message: ReceivedMessage }
  /** Another connection took the subscription over. */
  | { type: "END"; rcvId: Uint8Array }
  /** Another connection deleted the queue. */
  | { type: "DELD"; rcvId: Uint8Array }
  /** A MSG for a queue this connection does not know or that does not decrypt, or a pushed ERR. */
  | { type: "ERROR"; rcvId: Uint8Array; error: Error };

/**
 * Everything the relay delivers on one connection, decrypted, in arrival order: pushed MSGs, MSG
 * replies to ACK and GET, END and DELD. It buffers from the moment it is created until `close()`
 * or the end of the connection, so nothing is lost between reads. Leaving a `for await` loop
 * does not close it: a later loop goes on where the first stopped.
 */
export class DeliveryStream implements AsyncIterable<Delivery> {
  private readonly buffer: Delivery[] = [];
  private readonly waiters = new Set<() => void>();
  private ended = false;
  private readonly off: () => void;

  constructor(client: SMPClient, filter: (d: Delivery) => boolean = () => true) {
    this.off = client.onPush((p) => {
      const d = toDelivery(client, p.entityId, p.response);
      if (d && filter(d)) {
        this.buffer.push(d);
        this.wake();
      }
    });
    void client.closed.then(() => this.close());
  }

  /** Deliveries received and not read yet. */
  get pending(): number {
    return this.buffer.length;
  }

  /** The next delivery; null once the stream has ended and its buffer is empty. */
  async read(timeoutMs?: number): Promise<Delivery | null> {
    for (;;) {
      const d = this.buffer.shift();
      if (d) return d;
      if (this.ended) return null;
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          if (timer !== undefined) clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
          this.waiters.delete(wake);
          reject(new TimeoutError(`no delivery within ${timeoutMs} ms`));
        }, timeoutMs);
        this.waiters.add(wake);
      });
    }
  }

  /** Stops listening. Deliveries already buffered can still be read. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.off();
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Delivery> {
    for (;;) {
      const d = await this.read();
      if (d === null) return;
      yield d;
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function toDelivery(client: SMPClient, rcvId: Uint8Array, r: ServerResponse): Delivery | null {
  switch (r.tag) {
    case "MSG": {
      const queue = knownQueue(client, rcvId);
      if (!queue) return { type: "ERROR", rcvId, error: new MessageDecryptionError(`MSG for unknown queue ${hex(rcvId)}`) };
      try {
        return { type: "MSG", rcvId, queue, message: decryptMessage(queue, r.msgId, r.body) };
      } catch (e) {
        return { type: "ERROR", rcvId, error: e as Error };
      }
    }
    case "END":
    case "DELD":
      return { type: r.tag, rcvId };
    case "ERR":
      return { type: "ERROR", rcvId, error: new Error(`ERR ${r.code}`) };
    default:
      return null;
  }
}

/** All deliveries on this connection (see DeliveryStream). Create it before SUB. */
export function deliveries(client: SMPClient): DeliveryStream {
  return new DeliveryStream(client);
}

/**
 * The messages of one queue on this connection, decrypted, as an async iterator. Ends when the
 * subscription ends (END, DELD) or the connection closes; a message that does not decrypt throws.
 * Create it before SUB so a pushed message is not missed.
 */
export function messages(client: SMPClient, q: RecipientQueue): AsyncIterable<ReceivedMessage> & { close(): void } {
  register(client, q);
  const key = hex(q.rcvId);
  const stream = new DeliveryStream(client, (d) => hex(d.rcvId) === key);
  return {
    close: () => stream.close(),
    async *[Symbol.asyncIterator]() {
      for await (const d of stream) {
        if (d.type === "MSG") yield d.message;
        else if (d.type === "ERROR") throw d.error;
        else {
          stream.close();
          return;
        }
      }
    },
  };
}
