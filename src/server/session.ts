// SessionDO: one Durable Object per client WebSocket, using the Hibernation API.
//
// Life of a connection: fetch() accepts the socket and sends the server hello; the first frame
// back is the client hello, which sets up block encryption; every later frame is one encrypted
// block of commands, answered in order. Between frames the object may hibernate or be evicted:
// all it needs is in the socket attachment (see sessionState.ts).
import { DurableObject } from "cloudflare:workers";
import "./nativeCrypto.js";
import { startLibsodium } from "./sodium.js";
import { parseChallenge } from "../protocol/address.js";
import { decodeBatch, encodeBatch, packBatches } from "../protocol/batch.js";
import { constantTimeEqual, ParseError } from "../protocol/encoding.js";
import { decodeClientHello, encodeServerHello, SMP_VERSION } from "../protocol/hello.js";
import { BLOCK_SIZE, pad, unpad } from "../protocol/padding.js";
import { encodeServerTransmission, type ServerTransmission } from "../protocol/transmission.js";
import { chainInit, decryptBlock, encryptBlock } from "../crypto/blockCipher.js";
import { decodePublicKey } from "../crypto/keys.js";
import { randomBytes } from "../crypto/random.js";
import { generateX25519, x25519 } from "../crypto/x25519.js";
import { encodeResponse, type ServerResponse } from "../protocol/commands.js";
import { readConfig, type RelayConfig } from "./config.js";
import { ConnQueues } from "./connQueues.js";
import { metrics } from "./metrics.js";
import { execute, prepare, preparedTag, refuseBusy, resolveRoute, type Outcome, type Reply, type SessionContext } from "./dispatch.js";
import { loadIdentity, loadQueueIds } from "./identityStore.js";
import { serverHelloFor } from "./identity.js";
import { IndexRoutes } from "./routes.js";
import { readState, writeState, type OpenState, type SessionState } from "./sessionState.js";
import { finalFlush, openedCounts, takeDayRollover, withCounts, type StatsFlush } from "./sessionStats.js";
import { recordStats } from "./stats.js";
import { countCommand, type Counts } from "./statsCounters.js";

/** Close codes: 1002 protocol violations, 1003 text frames, 1008 limits, 1011 our own failures. */
const CLOSE_PROTOCOL = 1002;
const CLOSE_UNSUPPORTED = 1003;
const CLOSE_POLICY = 1008;
const CLOSE_INTERNAL = 1011;

const EMPTY = new Uint8Array(0);

export class SessionDO extends DurableObject<Env> {
  /**
   * Frames are handled one after another. Handlers await (WebCrypto, and queue calls later), and
   * the runtime would otherwise start the next frame's handler meanwhile: the client's first
   * command block can arrive while its hello is still being processed. Only pending while work
   * is in flight, so it never keeps the object from hibernating.
   */
  private tail: Promise<void> = Promise.resolve();
  /**
   * Frames received and not handled yet. Past MAX_PENDING_BLOCKS a block's commands are refused
   * (ERR QUOTA each, nothing run): the Hibernation API cannot stop reading, so that is the
   * backpressure a fast client gets. Past twice as many the client is flooding and is closed.
   */
  private pending = 0;
  private readonly conns: ConnQueues;
  private configCache: RelayConfig | undefined;
  /** Client-chosen ids this Session looked up (routes.ts); in memory, gone after hibernation. */
  private routes: IndexRoutes | undefined;
  /** The handshake deadline's timer, only until the client hello (see fetch). */
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sockets whose statistics were flushed, should the attachment refuse the mark (a closed socket). */
  private readonly counted = new WeakSet<WebSocket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void startLibsodium(); // secretbox on libsodium from the first event on (sodium.ts)
    this.conns = new ConnQueues(ctx.storage.sql, () => this.ctx.getWebSockets()[0]);
  }

  /** Read on first use, not in the constructor: a bad var fails a request, never the object. */
  private get config(): RelayConfig {
    return (this.configCache ??= readConfig(this.env as unknown as Record<string, string>));
  }

  /**
   * RPC from a Queue object: deliver MSG, END or DELD for subscription generation `gen` of one of
   * this connection's queues. False when the socket is gone or this connection does not hold that
   * generation (it was ended, or a newer SUB replaced it): the push is dropped, and the queue
   * forgets the subscription if it is still its current one.
   */
  async push(queue: string, entityId: Uint8Array, response: ServerResponse, gen: number): Promise<boolean> {
    metrics.rpc.sessionPush++;
    // After the blocks received before it: their replies (a SOK, say) go out first, and a
    // subscription they set up is recorded before a push is judged against it. (Not after later
    // ones too: a client that never pauses would hold its pushes back.)
    await this.tail;
    const ws = this.ctx.getWebSockets()[0];
    const state = ws ? readState(ws) : null;
    const conn = this.conns.get(queue);
    if (!ws || state?.phase !== "open" || conn?.mode !== "sub" || conn.gen !== gen) return false;
    if (response.tag === "END" || response.tag === "DELD") this.conns.set(queue, null);
    sendTransmissions(ws, [{ corrId: EMPTY, entityId, command: encodeResponse(response) }]);
    return true;
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const url = new URL(request.url);
    const challenge = parseChallenge(url.pathname + url.search);
    const identity = await loadIdentity(this.env, url.host);
    const session = await generateX25519();
    const sessionId = randomBytes(32);
    const hello = await serverHelloFor(identity, { sessionId, sessionPublicKey: session.publicKey, challenge });
    const helloBlock = pad(encodeServerHello(hello), BLOCK_SIZE);

    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    // A client that never finishes its hello is closed at the deadline. A timer, not the alarm:
    // the alarm would cost a row written (and another to delete it) for every connection, and
    // storage is the Session's to spare. The timer keeps the object awake only until the hello,
    // milliseconds for a real client; should the object be evicted meanwhile, the deadline in the
    // attachment closes the connection at its next frame.
    const timeoutMs = this.config.handshakeTimeoutSeconds * 1000;
    writeState(server, {
      phase: "handshake",
      sessionId,
      sessionPriv: session.privateKey,
      sessionPub: session.publicKey,
      keyHash: identity.keyHash,
      deadline: Date.now() + timeoutMs,
    });
    this.handshakeTimer = setTimeout(() => this.handshakeExpired(), timeoutMs);
    // The hello goes out one event-loop turn after the 101 response: a Node `ws` client that
    // attaches its message handler after "open" (smp-web does) drops a hello that arrives in the
    // same read as the upgrade response (WIRE.md 10.3).
    setTimeout(() => {
      try {
        server.send(helloBlock);
      } catch {
        // The client already left; webSocketClose cleans up.
      }
    }, 1);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    metrics.wsMessagesIn++;
    const limit = this.config.maxPendingBlocks;
    if (this.pending >= 2 * limit) {
      // Far past the bound even a fast client stays under: flooding. End it.
      close(ws, CLOSE_POLICY, "too many pending blocks");
      return this.forget(ws);
    }
    const refuse = this.pending >= limit;
    this.pending++;
    const run = this.tail.then(() => this.onFrame(ws, message, refuse)).finally(() => this.pending--);
    this.tail = run.catch(() => {});
    return run;
  }

  /** Resolves when no frame is being handled or waiting: also those that arrive meanwhile. */
  private async settled(): Promise<void> {
    let t: Promise<void>;
    do {
      t = this.tail;
      await t;
    } while (t !== this.tail);
  }

  /** The handshake deadline: closes the connection if it is still waiting for its client hello. */
  private handshakeExpired(): void {
    this.handshakeTimer = undefined;
    for (const ws of this.ctx.getWebSockets()) {
      if (readState(ws)?.phase !== "handshake") continue;
      close(ws, CLOSE_POLICY, "handshake timeout");
      void this.flushFinal(ws);
    }
  }

  /**
   * Alarms of Sessions from before the handshake timer (the deadline was an alarm then): closes a
   * connection still in its handshake, and frees an object whose socket is gone.
   */
  override async alarm(): Promise<void> {
    const sockets = this.ctx.getWebSockets();
    // An alarm set while the socket was closing outlived it: nothing here is needed any more.
    if (sockets.length === 0) return this.ctx.storage.deleteAll();
    for (const ws of sockets) {
      if (readState(ws)?.phase !== "handshake") continue;
      close(ws, CLOSE_POLICY, "handshake timeout");
      await this.flushFinal(ws);
    }
  }

  /**
   * The client closed: answer its Close (with the Hibernation API the runtime may leave that to
   * us, and the client would otherwise wait and see 1006), let the blocks in flight finish, then
   * free all storage. Subscriptions end with the connection, silently (WIRE.md 8); queues learn
   * it lazily, when their next push is refused.
   */
  override async webSocketClose(ws: WebSocket, code: number, reason: string, _wasClean: boolean): Promise<void> {
    reciprocateClose(ws, code, reason);
    await this.forget(ws);
  }

  /** A socket that failed is as good as closed (a close event may not follow). */
  override async webSocketError(ws: WebSocket, _error: unknown): Promise<void> {
    await this.forget(ws);
  }

  /**
   * Writes nothing more, lets the blocks in flight finish, then frees the storage, if the
   * connection used any (most never do: see connQueues.ts), and flushes its statistics. Safe twice.
   */
  private async forget(ws: WebSocket): Promise<void> {
    this.stopHandshakeTimer();
    const state = readState(ws);
    const stored = this.conns.usedStorage() || (state?.phase === "open" && state.spilled === true);
    this.conns.close();
    await this.settled();
    if (stored) await this.ctx.storage.deleteAll();
    await this.flushFinal(ws);
  }

  /**
   * The connection's one statistics flush (sessionStats.ts), once it ended: when the client
   * closed, or right after the relay closed it. Marked in the attachment first, so a close event
   * after our own close, or after an eviction, does not count it twice.
   */
  private async flushFinal(ws: WebSocket): Promise<void> {
    const state = readState(ws);
    if (state === null || this.counted.has(ws)) return;
    const flush = finalFlush(state, Date.now());
    if (flush === null) return;
    this.counted.add(ws);
    try {
      writeState(ws, { ...state, counted: true });
    } catch {
      // The socket is gone: the in-memory mark guards the rest of this object's life.
    }
    await this.flush(flush);
  }

  private async flush(f: StatsFlush): Promise<void> {
    let config: RelayConfig;
    try {
      config = this.config;
    } catch {
      return; // a bad setting: every request says so (startup.ts); nothing to count into
    }
    await recordStats(this.env, config, f.counts, f.day);
  }

  private async onFrame(ws: WebSocket, message: string | ArrayBuffer, refuse: boolean): Promise<void> {
    await this.handleFrame(ws, message, refuse);
    // The relay closed the connection (a bad frame, a failed handshake): it ends here.
    if (ws.readyState !== WebSocket.READY_STATE_OPEN) await this.flushFinal(ws);
  }

  private async handleFrame(ws: WebSocket, message: string | ArrayBuffer, refuse: boolean): Promise<void> {
    if (ws.readyState !== WebSocket.READY_STATE_OPEN) return; // closed while this frame waited
    if (typeof message === "string") return close(ws, CLOSE_UNSUPPORTED, "BLOCK");
    // Exactly one 16384-byte block per frame; anything else is a fatal transport error (BLOCK).
    if (message.byteLength !== BLOCK_SIZE) return close(ws, CLOSE_PROTOCOL, "BLOCK");
    const state = readState(ws);
    if (state === null) return close(ws, CLOSE_INTERNAL, "no session state");
    const frame = new Uint8Array(message);
    // Past the deadline (its timer was lost with an eviction): as if the timer had fired.
    if (state.phase === "handshake" && state.deadline !== undefined && Date.now() > state.deadline) return close(ws, CLOSE_POLICY, "handshake timeout");
    try {
      if (state.phase === "handshake") await this.onClientHello(ws, state, frame);
      else await this.onBlock(ws, state, frame, refuse);
    } catch (e) {
      console.error("session error", e instanceof Error ? e.message : String(e));
      close(ws, CLOSE_INTERNAL, "INTERNAL");
    }
  }

  private async onClientHello(ws: WebSocket, state: SessionState & { phase: "handshake" }, frame: Uint8Array): Promise<void> {
    let hello;
    try {
      hello = decodeClientHello(unpad(frame));
    } catch (e) {
      if (e instanceof ParseError) return close(ws, CLOSE_PROTOCOL, "HANDSHAKE PARSE");
      throw e;
    }
    if (hello.version !== SMP_VERSION) return close(ws, CLOSE_PROTOCOL, "VERSION");
    if (!constantTimeEqual(hello.keyHash, state.keyHash)) return close(ws, CLOSE_PROTOCOL, "HANDSHAKE IDENTITY");
    if (hello.clientService !== null) return close(ws, CLOSE_PROTOCOL, "HANDSHAKE BAD_SERVICE");
    const clientKey = hello.clientKey === null ? null : decodePublicKey(hello.clientKey);
    // Web clients always send an X25519 key and no proxy flag: that is what turns on block encryption.
    if (clientKey === null || clientKey.alg !== "x25519" || hello.proxyServer) return close(ws, CLOSE_PROTOCOL, "HANDSHAKE PARSE");
    let dh: Uint8Array;
    try {
      dh = await x25519(state.sessionPriv, clientKey.raw);
    } catch {
      return close(ws, CLOSE_PROTOCOL, "HANDSHAKE PARSE");
    }
    const chains = chainInit(state.sessionId, dh);
    const open: OpenState = {
      phase: "open",
      sessionId: state.sessionId,
      sessionPriv: state.sessionPriv,
      sessionPub: state.sessionPub,
      version: hello.version,
      snd: chains.a,
      rcv: chains.b,
      newTokens: this.config.newQueuesPerMinute,
      newAt: Date.now(),
      ...openedCounts(Date.now()),
    };
    writeState(ws, open);
    this.stopHandshakeTimer();
  }

  private stopHandshakeTimer(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private async onBlock(ws: WebSocket, state: OpenState, frame: Uint8Array, refuse: boolean): Promise<void> {
    // Step the receive chain and persist it before anything awaits.
    const { content, next } = decryptBlock(state.rcv, frame);
    let stepped: OpenState = { ...state, rcv: next };
    // The first block of a new UTC day sends the previous day's counts on their way.
    const rollover = takeDayRollover(stepped, Date.now());
    if (rollover !== null) stepped = rollover.state;
    writeState(ws, stepped);
    if (rollover !== null) void this.flush(rollover.flush);
    if (content === null) {
      // The client's chain and ours no longer agree: say so and end the connection.
      sendTransmissions(ws, [{ corrId: EMPTY, entityId: EMPTY, command: ERR_BLOCK }], INVALID);
      return close(ws, CLOSE_PROTOCOL, "BLOCK");
    }
    let items: Uint8Array[];
    try {
      items = decodeBatch(content);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      sendTransmissions(ws, [{ corrId: EMPTY, entityId: EMPTY, command: ERR_BLOCK }], INVALID);
      return;
    }
    if (refuse) return sendTransmissions(ws, items.map((raw) => toTransmission(refuseBusy(raw))));
    const { outcomes, counts } = await this.run(ws, items, state);
    const out: Reply[] = outcomes.map((o) => o.reply);
    for (const o of outcomes) if (o.push) out.push(o.push);
    sendTransmissions(ws, out.map(toTransmission), counts);
  }

  /**
   * Runs a block's commands: commands for one queue in order (whichever of its ids they name),
   * different queues concurrently.
   * Outcomes come back in command order, with what they count (statsCounters.ts).
   */
  private async run(ws: WebSocket, items: Uint8Array[], state: OpenState): Promise<{ outcomes: Outcome[]; counts: Counts }> {
    const ids = await loadQueueIds(this.env);
    const routes = (this.routes ??= new IndexRoutes(this.env, ids));
    const config = this.config;
    const ctx: SessionContext = {
      env: this.env,
      session: this.ctx.id.toString(),
      sessionId: state.sessionId,
      sessionPriv: state.sessionPriv,
      ids,
      routes,
      config: this.config,
      connOf: (q) => this.conns.get(q),
      setConn: (q, entry) => this.conns.set(q, entry),
      canSubscribe: (q) => this.conns.get(q)?.mode === "sub" || this.conns.subscriptions() < config.maxSubscriptions,
      takeNewQueueToken: () => takeToken(ws, config.newQueuesPerMinute),
    };
    // Ids a client chose are looked up first, all at once, so each group below is one queue.
    const prepared = await Promise.all(items.map((raw) => resolveRoute(prepare(raw), routes)));
    const outcomes: Outcome[] = new Array(prepared.length);
    const groups = new Map<string, number[]>();
    prepared.forEach((p, i) => {
      if (p.done) outcomes[i] = { reply: p.done };
      else groups.set(p.group, [...(groups.get(p.group) ?? []), i]);
    });
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        for (const i of indexes) outcomes[i] = await execute(prepared[i]!, ctx);
      }),
    );
    const counts: Counts = {};
    prepared.forEach((p, i) => countCommand(counts, preparedTag(p), outcomes[i]!.reply.response));
    return { outcomes, counts };
  }
}

const ERR_BLOCK = new TextEncoder().encode("ERR BLOCK");
/** What a block that cannot be read counts: one transmission that did not parse. */
const INVALID: Counts = { "cmd.invalid": 1 };

/** NEW's rate limit: a bucket of `perMinute` tokens refilled continuously, kept in the attachment. */
function takeToken(ws: WebSocket, perMinute: number): boolean {
  const state = readState(ws);
  if (state?.phase !== "open") return false;
  const now = Date.now();
  const tokens = Math.min(perMinute, (state.newTokens ?? perMinute) + ((now - (state.newAt ?? now)) * perMinute) / 60_000);
  if (tokens < 1) return false;
  writeState(ws, { ...state, newTokens: tokens - 1, newAt: now });
  return true;
}

function toTransmission(r: Reply): ServerTransmission {
  return { corrId: r.corrId, entityId: r.entityId, command: encodeResponse(r.response) };
}

/**
 * Packs transmissions into as few blocks as fit and sends them, stepping the send chain, and adds
 * `counted` to the connection's statistics in the same attachment write. Synchronous from reading
 * the chain key to writing the next one, so concurrent senders (replies, pushes) can never reuse a
 * step, nor lose each other's counts.
 */
export function sendTransmissions(ws: WebSocket, ts: ServerTransmission[], counted?: Counts): void {
  const readable = readState(ws);
  if (readable === null || readable.phase !== "open") return;
  const state = withCounts(readable, counted);
  // A block still in flight when the client closed has no one to answer; what it did still counts.
  if (ts.length === 0 || ws.readyState !== WebSocket.READY_STATE_OPEN) {
    if (counted !== undefined) writeCounts(ws, state);
    return;
  }
  let snd = state.snd;
  const blocks: Uint8Array[] = [];
  for (const batch of packBatches(ts.map(encodeServerTransmission))) {
    const r = encryptBlock(snd, encodeBatch(batch));
    blocks.push(r.block);
    snd = r.next;
  }
  writeState(ws, { ...state, snd });
  for (const b of blocks) ws.send(b);
}

/** The state with new counts, on a socket that may have closed meanwhile (nothing else changes). */
function writeCounts(ws: WebSocket, state: OpenState): void {
  try {
    writeState(ws, state);
  } catch {
    // The socket is gone and so is the chance to count: the final flush may have run already.
  }
}

/** Echoes the client's close code; 1000 for those that may not be sent (1005, 1006, 1015). */
function reciprocateClose(ws: WebSocket, code: number, reason: string): void {
  const sendable = code === 1000 || (code >= 1001 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  try {
    ws.close(sendable ? code : 1000, reason);
  } catch {
    close(ws, 1000, "");
  }
}

function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closing.
  }
}
