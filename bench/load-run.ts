// The load run behind `npm run load` (bench/load.ts) and test/integration/load.test.ts: N
// connections, Q queues, M messages per queue against one relay, every message checked.
//
// Half of the connections are recipients (or all but `senders`): each creates its share of the
// queues, subscribed. The others are senders: each secures its share with SKEY and sends to them.
// (A burst, bench/load-burst.ts, is this run with one sender that sends to every queue at once.) Every queue is
// ACK-driven on its own: its next SEND goes out when its previous message reaches the recipient
// (who ACKs it at once), so each queue has one message in flight and Q queues run side by side.
// Each body carries its queue and sequence number; test/helpers/delivery-check.ts checks every
// delivery against the sends: lost, duplicated (by msgId or by content), out of order.
//
// Connections that drop (a relay restart) are opened again until the time limit: recipients
// SUB their queues again, senders go on with the next message. A SEND whose reply never came is
// "uncertain" (it may or may not have been stored): it may be missing, nothing else.
import WebSocket from "ws";
import { connect, type SMPClient } from "../src/client/client.js";
import { ConnectionClosedError, SMPProtocolError, TimeoutError } from "../src/client/errors.js";
import { ack, createQueue, decryptMessage, secureSenderQueue, sendMessage, subscribe, type RecipientQueue } from "../src/client/queues.js";
import type { WebSocketConstructor } from "../src/client/socket.js";
import { parseAddress } from "../src/protocol/address.js";
import type { ServerResponse } from "../src/protocol/commands.js";
import { hex } from "../src/protocol/encoding.js";
import { generateX25519, type X25519KeyPair } from "../src/crypto/x25519.js";
import { DeliveryLog } from "../test/helpers/delivery-check.js";
import { startRelay, type RunningRelay } from "../test/helpers/relay.js";
import { percentile } from "./format.js";
import type { LoadOptions, LoadResult, Progress } from "./load-report.js";

export { formatSummary, type LoadOptions, type LoadResult, type Progress } from "./load-report.js";

const WS = WebSocket as unknown as WebSocketConstructor;
const utf8 = new TextEncoder();

/** Body: "L <queue> <seq> " then dots; at least 32 bytes so the tag always fits. */
function body(qi: number, seq: number, size: number): Uint8Array {
  const b = new Uint8Array(Math.max(32, size)).fill(0x2e);
  b.set(utf8.encode(`L ${qi} ${seq} `));
  return b;
}

function parseBody(b: Uint8Array): { qi: number; seq: number } | null {
  const m = /^L (\d+) (\d+) /.exec(new TextDecoder().decode(b.subarray(0, 32)));
  return m ? { qi: Number(m[1]), seq: Number(m[2]) } : null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A command failed because the connection went away (or its reply never came): nothing is known. */
const isLostReply = (e: unknown): boolean => e instanceof ConnectionClosedError || e instanceof TimeoutError;

export class LoadError extends Error {
  override readonly name = "LoadError";
}

interface QueueState {
  qi: number;
  name: string;
  q: RecipientQueue;
  senderKey: X25519KeyPair;
  recipient: Conn;
  sender: Conn;
  /** Next sequence number to send. */
  next: number;
  /** When each SEND was issued (performance.now()), until its first delivery. */
  t0: Map<number, number>;
  /** A SEND is being sent. */
  sending: boolean;
  /** The last SEND got no reply: send the next one once the sender is connected again. */
  resend: boolean;
  /** Sequence numbers delivered at least once. */
  seen: Set<number>;
  finished: boolean;
}

/** One connection, opened again when it drops; at most `window` commands in flight. */
class Conn {
  client: SMPClient | null = null;
  readonly queues: QueueState[] = [];
  private inFlight = 0;
  private readonly slots: Array<() => void> = [];
  private connecting: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly role: "recipient" | "sender",
    private readonly run: Run,
  ) {}

  /**
   * Runs `f` with the current client, within the window. While the connection is down it waits
   * for the reconnect, unless `only` names the client the command is for (an ACK belongs to the
   * connection that got the message): then it fails as if the connection had dropped.
   */
  async command<T>(f: (c: SMPClient) => Promise<T>, only?: SMPClient): Promise<T> {
    while (this.inFlight >= this.run.window) await new Promise<void>((r) => this.slots.push(r));
    this.inFlight++;
    try {
      for (;;) {
        const c = this.client;
        if (only !== undefined && c !== only) throw new ConnectionClosedError(1006, "connection replaced");
        if (c?.isOpen) return await f(c);
        if (this.run.stopped) throw new ConnectionClosedError(1006, "not connected");
        await sleep(50);
      }
    } finally {
      this.inFlight--;
      this.slots.shift()?.();
    }
  }

  async open(): Promise<void> {
    const c = await connect(this.run.wsUrl, this.run.keyHash, {
      WebSocket: WS,
      pingInterval: 0,
      commandTimeout: this.run.commandTimeoutMs,
      handshakeTimeout: 10_000,
      ...(this.run.opts.blocksInFlight !== undefined ? { maxBlocksInFlight: this.run.opts.blocksInFlight } : {}),
    });
    this.client = c;
    c.onPush((p) => this.run.onPush(this, c, p.entityId, p.response));
    void c.closed.then(() => {
      if (this.client === c) this.run.onDrop(this);
    });
  }

  /** Opens the connection again (once, however many callers ask), until it works or time is up. */
  reopen(): Promise<void> {
    this.connecting ??= (async () => {
      for (let attempt = 0; !this.run.stopped; attempt++) {
        try {
          await this.open();
          return;
        } catch {
          await sleep(Math.min(1000, 100 * (attempt + 1)));
        }
      }
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }

  close(): void {
    const c = this.client;
    this.client = null;
    if (c?.isOpen) c.close();
  }
}

class Run {
  readonly log = new DeliveryLog();
  readonly latencies: number[] = [];
  readonly byRcvId = new Map<string, QueueState>();
  readonly failures: string[] = [];
  stopped = false;
  reconnects = 0;
  drops = 0;
  errors = 0;
  /** Commands whose reply did not come within the command timeout, and replies that came later. */
  timeouts = 0;
  lateReplies = 0;
  sentOk = 0;
  attempted = 0;
  delivered = 0;
  done = 0;
  private finish: (() => void) | null = null;
  readonly finished = new Promise<void>((r) => (this.finish = r));

  constructor(
    readonly wsUrl: string,
    readonly keyHash: Uint8Array,
    readonly opts: LoadOptions,
    readonly window: number,
    readonly msgBytes: number,
    readonly commandTimeoutMs: number,
  ) {}

  fail(text: string): void {
    this.errors++;
    if (this.failures.length < 20) this.failures.push(text);
  }

  /** ACKs not answered yet. */
  readonly acks = new Set<Promise<void>>();

  /** A queue has all its messages in: count it, and end the run when every queue has. */
  private checkDone(s: QueueState): void {
    if (s.finished || s.next < this.opts.messages || s.sending || s.t0.size > 0) return;
    s.finished = true;
    this.done++;
    if (this.done === this.byRcvId.size) this.finish?.();
  }

  /**
   * ACK-driven: a queue's next SEND goes out once its previous message has been delivered (or
   * its SEND got no reply: then nothing may ever come). Called on every event that may allow it.
   */
  pump(s: QueueState): void {
    const ready = !s.sending && s.next < this.opts.messages && (s.next === 0 || s.seen.has(s.next - 1) || s.resend);
    if (this.stopped || !ready) return this.checkDone(s);
    s.resend = false;
    const seq = s.next++;
    s.sending = true;
    this.attempted++;
    this.log.sending(s.name, seq);
    void s.sender
      .command(async (c) => {
        s.t0.set(seq, performance.now());
        await sendMessage(c, s.q.sndId, body(s.qi, seq, this.msgBytes), { senderKey: s.senderKey });
      })
      .then(
        () => {
          this.sentOk++;
          this.log.sendResult(s.name, seq, "ok");
        },
        (e: unknown) => {
          s.t0.delete(seq);
          if (e instanceof TimeoutError) this.timeouts++;
          if (isLostReply(e)) {
            // Maybe stored, maybe not: it may never come, so the queue goes on with the next one
            // (the command waits for the sender to be connected again).
            this.log.sendResult(s.name, seq, "uncertain");
            s.resend = true;
          } else {
            this.log.sendResult(s.name, seq, "refused");
            this.fail(`SEND to queue ${s.qi} (#${seq}): ${(e as Error).message}`);
            s.next = this.opts.messages; // this queue is broken: stop sending to it
          }
        },
      )
      .finally(() => {
        s.sending = false;
        this.pump(s);
      });
  }

  onPush(conn: Conn, client: SMPClient, entityId: Uint8Array, r: ServerResponse): void {
    const at = performance.now();
    const s = this.byRcvId.get(hex(entityId));
    if (r.tag === "END" || r.tag === "DELD") {
      this.fail(`${r.tag} for queue ${s?.qi ?? "?"} on ${conn.name}`);
      return;
    }
    if (r.tag !== "MSG") {
      // A reply that came after its command timed out reaches the push listeners too.
      if (this.timeouts > 0) this.lateReplies++;
      else if (r.tag === "ERR") this.fail(`pushed ERR ${r.code} on ${conn.name}`);
      return;
    }
    if (!s || s.recipient !== conn) {
      this.fail(`MSG for an unknown queue on ${conn.name}`);
      return;
    }
    let tag: { qi: number; seq: number } | null;
    try {
      const m = decryptMessage(s.q, r.msgId, r.body);
      tag = m.quota ? null : parseBody(m.body);
    } catch (e) {
      this.fail(`queue ${s.qi}: ${(e as Error).message}`);
      return;
    }
    if (tag === null || tag.qi !== s.qi) {
      this.fail(`queue ${s.qi}: a message that is not one of ours (or the quota marker)`);
      return;
    }
    const seq = tag.seq;
    this.log.delivered(s.name, seq, hex(r.msgId));
    if (!s.seen.has(seq)) {
      s.seen.add(seq);
      this.delivered++;
      const t0 = s.t0.get(seq);
      if (t0 !== undefined) this.latencies.push(at - t0);
      s.t0.delete(seq);
    }
    this.ackMessage(s, client, seq, r.msgId, 0);
    this.pump(s);
  }

  /** ACK on the connection that got the message; again if its reply times out. */
  private ackMessage(s: QueueState, client: SMPClient, seq: number, msgId: Uint8Array, attempt: number): void {
    const p = s.recipient
      .command((c) => ack(c, s.q, msgId), client)
      .then(
        () => this.log.acked(s.name, seq),
        (e: unknown) => {
          if (e instanceof ConnectionClosedError) return; // the SUB after the reconnect brings it again
          if (e instanceof TimeoutError) this.timeouts++;
          if (e instanceof TimeoutError && attempt < 3) return this.ackMessage(s, client, seq, msgId, attempt + 1);
          // NO_MSG after a retry: the first attempt was handled after all.
          if (e instanceof SMPProtocolError && e.code === "NO_MSG" && attempt > 0) return this.log.acked(s.name, seq);
          this.fail(`ACK on queue ${s.qi} (#${seq}): ${(e as Error).message}`);
        },
      )
      .finally(() => this.acks.delete(p));
    this.acks.add(p);
  }

  onDrop(conn: Conn): void {
    if (this.stopped) return;
    this.drops++;
    if (this.opts.reconnect === false) {
      this.fail(`${conn.name} dropped`);
      return;
    }
    this.reconnects++;
    void conn.reopen().then(async () => {
      if (this.stopped || !conn.client?.isOpen) return;
      if (conn.role === "sender") return; // its commands wait for the connection
      // Recipients: SUB every queue again; a pending message comes right after each SOK.
      await Promise.all(
        conn.queues.map((s) =>
          conn.command((c) => subscribe(c, s.q)).catch((e: unknown) => {
            if (!isLostReply(e)) this.fail(`SUB again on queue ${s.qi}: ${(e as Error).message}`);
          }),
        ),
      );
    });
  }

  stop(): void {
    this.stopped = true;
    this.finish?.();
  }
}

/** Runs `f` on every item, at most `n` at a time. */
async function pool<T>(items: T[], n: number, f: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await f(items[i]!, i);
      }
    }),
  );
}

async function target(opts: LoadOptions): Promise<{ wsUrl: string; address: string; relay: RunningRelay | null }> {
  if (opts.url === undefined) {
    // Hundreds of connections a minute from this one address: no per-address limit.
    const relay = await startRelay({ vars: { LIMIT_CONNECTIONS_PER_IP: "false" } });
    const health = (await (await fetch(`${relay.httpUrl}/health`)).json()) as { address: string };
    return { wsUrl: relay.wsUrl, address: health.address, relay };
  }
  const u = new URL(opts.url);
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new LoadError(`--url must be ws:// or wss://, not ${opts.url}`);
  if (opts.address !== undefined) return { wsUrl: opts.url, address: opts.address, relay: null };
  const health = `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}/health`;
  const res = await fetch(health, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new LoadError(`${health}: HTTP ${res.status} (give the relay's address with --address)`);
  return { wsUrl: opts.url, address: ((await res.json()) as { address: string }).address, relay: null };
}

/** Runs the load and checks every delivery. Throws LoadError when the run cannot even start. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  if (!Number.isInteger(opts.connections) || opts.connections < 2) throw new LoadError("at least 2 connections (a recipient and a sender)");
  if (opts.queues < 1 || opts.messages < 1) throw new LoadError("at least 1 queue and 1 message");
  const started = performance.now();
  const deadline = started + opts.timeoutMs;
  const stage = opts.onStage ?? (() => {});
  const msgBytes = opts.msgBytes ?? 100;
  if (opts.url === undefined) stage("starting a local relay (wrangler dev on 127.0.0.1)");
  const { wsUrl, address, relay } = await target(opts);
  const run = new Run(wsUrl, parseAddress(address).keyHash, opts, opts.window ?? 32, msgBytes, opts.commandTimeoutMs ?? 120_000);
  const nSenders = opts.senders ?? Math.floor(opts.connections / 2);
  if (!Number.isInteger(nSenders) || nSenders < 1 || nSenders >= opts.connections) throw new LoadError(`senders must be 1 to ${opts.connections - 1}, not ${nSenders}`);
  const nRecipients = opts.connections - nSenders;
  const recipients = Array.from({ length: nRecipients }, (_, i) => new Conn(`recipient ${i}`, "recipient", run));
  const senders = Array.from({ length: nSenders }, (_, i) => new Conn(`sender ${i}`, "sender", run));
  const all = [...recipients, ...senders];
  const watchdog = setTimeout(() => run.stop(), Math.max(0, deadline - performance.now()));
  let setupSeconds = 0;
  let runStart = performance.now();
  let runEnd = runStart;
  let timer: ReturnType<typeof setInterval> | null = null;
  try {
    stage(`connecting ${all.length} connections to ${wsUrl}`);
    await pool(all, 20, (c) => c.open());

    stage(`creating ${opts.queues} queues (${nRecipients} recipients, ~${Math.ceil(opts.queues / nRecipients)} each), secured by ${nSenders} senders`);
    const states: QueueState[] = new Array(opts.queues);
    await pool(
      Array.from({ length: opts.queues }, (_, i) => i),
      Math.min(opts.queues, 10 * all.length),
      async (qi) => {
        if (run.stopped) throw new LoadError("time limit reached while creating queues");
        const recipient = recipients[qi % nRecipients]!;
        const sender = senders[qi % nSenders]!;
        let q: RecipientQueue;
        try {
          q = await recipient.command((c) => createQueue(c, { subscribe: true, ...(opts.password ? { basicAuth: opts.password } : {}) }));
        } catch (e) {
          if (e instanceof SMPProtocolError && e.code === "QUOTA") {
            throw new LoadError(
              `NEW refused with ERR QUOTA on ${recipient.name} after ${recipient.queues.length} queues: a per-connection limit of the relay ` +
                "(NEW_QUEUES_PER_MINUTE, queue creations per minute, or MAX_SUBSCRIPTIONS); use more connections or fewer queues",
            );
          }
          if (e instanceof SMPProtocolError && e.code === "AUTH") throw new LoadError("NEW refused with ERR AUTH: the relay wants a password (--password) or does not allow new queues");
          throw e;
        }
        const senderKey = await generateX25519();
        await sender.command((c) => secureSenderQueue(c, q.sndId, senderKey));
        const s: QueueState = {
          qi,
          name: `q${qi}`,
          q,
          senderKey,
          recipient,
          sender,
          next: 0,
          t0: new Map(),
          sending: false,
          resend: false,
          seen: new Set(),
          finished: false,
        };
        states[qi] = s;
        recipient.queues.push(s);
        sender.queues.push(s);
        run.byRcvId.set(hex(q.rcvId), s);
      },
    );
    setupSeconds = (performance.now() - started) / 1000;

    stage(`sending ${opts.messages} messages on each queue, ACK-driven`);
    runStart = performance.now();
    let last = { at: runStart, delivered: 0 };
    timer = setInterval(() => {
      const now = performance.now();
      const p: Progress = {
        elapsedMs: now - runStart,
        sent: run.sentOk,
        delivered: run.delivered,
        inFlight: run.attempted - run.delivered,
        rate: ((run.delivered - last.delivered) * 1000) / Math.max(1, now - last.at),
        reconnects: run.reconnects,
      };
      last = { at: now, delivered: run.delivered };
      opts.onProgress?.(p);
    }, opts.progressMs ?? 1000);
    for (const s of states) run.pump(s);
    await run.finished;
    runEnd = performance.now();
    // The last ACKs, so the queues are left empty (each is bounded by the command timeout).
    await Promise.race([Promise.all([...run.acks]), sleep(10_000)]);
  } finally {
    run.stopped = true;
    clearTimeout(watchdog);
    if (timer) clearInterval(timer);
    for (const c of all) c.close();
    await relay?.stop();
  }

  const check = run.log.report();
  const timedOut = run.done < opts.queues;
  const failures = [...run.failures];
  if (timedOut) failures.push(`time limit reached: ${opts.queues - run.done} of ${opts.queues} queues not finished`);
  failures.push(...check.problems.filter((p) => !failures.includes(p)));
  const runSeconds = (runEnd - runStart) / 1000;
  const lat = run.latencies;
  const ok = check.ok && !timedOut && run.errors === 0;
  return {
    ok,
    failures: failures.slice(0, 20),
    relay: { url: wsUrl, address, local: relay !== null },
    connections: opts.connections,
    recipients: nRecipients,
    senders: nSenders,
    queues: opts.queues,
    messagesPerQueue: opts.messages,
    msgBytes,
    setupSeconds,
    runSeconds,
    expected: opts.queues * opts.messages,
    sent: check.sent,
    uncertain: check.uncertain,
    delivered: check.delivered,
    lost: check.lost,
    duplicated: {
      byMsgId: check.redelivered + check.duplicatedByMsgId,
      legitimateRedeliveries: check.redelivered,
      byContent: check.duplicatedByContent,
    },
    outOfOrder: check.outOfOrder,
    unexpected: check.unexpected,
    rate: check.delivered / Math.max(0.001, runSeconds),
    latencyMs: { p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), max: lat.length ? Math.max(...lat) : NaN, samples: lat.length },
    reconnects: run.reconnects,
    drops: run.drops,
    timeouts: run.timeouts,
    errors: run.errors,
    timedOut,
    check,
  };
}
