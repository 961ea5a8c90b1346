// SMP client over WebSocket: connect with an identity challenge, verify the relay against the
// keyHash from its address, then exchange encrypted blocks and match replies by corrId.
import { base64url } from "../protocol/base64.js";
import { decodeBatch } from "../protocol/batch.js";
import { decodeResponse, encodeCommand, type ClientCommand, type ServerResponse } from "../protocol/commands.js";
import { decodeServerHello, encodeClientHello, SMP_VERSION } from "../protocol/hello.js";
import { BLOCK_SIZE, pad, unpad } from "../protocol/padding.js";
import {
  decodeServerTransmission,
  encodeClientTransmission,
  encodeSigned,
  transmissionForAuth,
} from "../protocol/transmission.js";
import { authenticatorWithSecret } from "../crypto/authenticator.js";
import { chainInit, decryptBlock, encryptBlock } from "../crypto/blockCipher.js";
import { encodePublicKey } from "../crypto/keys.js";
import { randomBytes } from "../crypto/random.js";
import { generateX25519, x25519 } from "../crypto/x25519.js";
import { BlockWindow, checkMaxBlocksInFlight, DEFAULT_MAX_BLOCKS_IN_FLIGHT } from "./blockWindow.js";
import { ConnectionClosedError, SMPProtocolError, TimeoutError } from "./errors.js";
import { defaultWebSocket, frameBytes, type WebSocketConstructor, type WebSocketLike } from "./socket.js";
import { verifyServerHello } from "./verifyServer.js";

export interface ConnectOptions {
  /** WebSocket implementation; defaults to the global one (browsers, Node 22+). */
  WebSocket?: WebSocketConstructor;
  /** Keep-alive PING interval in ms (smp-web: 600 s). 0 turns it off. */
  pingInterval?: number;
  /**
   * How long a command waits for its reply, in ms (default 10 000), counted from when its block
   * is sent: time spent waiting for room in the window (see maxBlocksInFlight) does not count.
   */
  commandTimeout?: number;
  /**
   * Blocks in flight at most on this connection (default 8): a block is in flight from when it is
   * sent until every command in it has had its reply, timed out, or the connection ended. Commands
   * issued while the window is full wait, in call order, and then leave packed together, as many
   * per block as fit. Keep it well below the relay's MAX_PENDING_BLOCKS (64 by default), the
   * blocks a connection may have waiting there: past it the relay refuses the commands of further
   * blocks (ERR QUOTA) or closes the connection (1008 "too many pending blocks").
   */
  maxBlocksInFlight?: number;
  /** How long to wait for the relay's hello, in ms. */
  handshakeTimeout?: number;
}

/** A transmission the relay sent without being asked (MSG, END, DELD, ERR with no corrId). */
export interface Push {
  entityId: Uint8Array;
  response: ServerResponse;
}

/** Signs a command as the holder of an X25519 queue key (the authenticator kind smp-web uses). */
export interface CommandAuth {
  x25519PrivateKey: Uint8Array;
}

/** Per-command options of `request` and `command`. */
export interface RequestOptions {
  /**
   * The transmission's corrId, 24 bytes (RangeError otherwise); default 24 random bytes. For NEW
   * with link data, whose sndId must be derived from its corrId (WIRE.md 6.2). It must not be the
   * corrId of another command of this connection still waiting for its reply: use fresh random bytes.
   */
  corrId?: Uint8Array;
}

/** Length of the corrIds this client sends, bytes (WIRE.md 5.1). */
export const CORR_ID_LENGTH = 24;

export class SMPClient {
  /** Commands waiting to be sent and waiting for their replies. */
  private readonly window: BlockWindow;
  private pushListeners = new Set<(p: Push) => void>();
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private closeInfo: ConnectionClosedError | null = null;
  /**
   * X25519(queue key, relay's session key) by queue private key (the array itself): the same for
   * every command this connection signs with that key, so it is derived once, not per command
   * (a PKCS#8 import and a key agreement each time, ~0.65 ms in Node 20).
   */
  private readonly authSecrets = new WeakMap<Uint8Array, Promise<Uint8Array>>();
  private closedResolve!: (e: ConnectionClosedError) => void;
  /** Resolves when the connection ends, for whatever reason. */
  readonly closed: Promise<ConnectionClosedError>;
  /** Encrypted blocks sent and received since the handshake. */
  readonly stats = { blocksSent: 0, blocksReceived: 0 };

  /** @internal use connect() */
  constructor(
    private readonly ws: WebSocketLike,
    readonly sessionId: Uint8Array,
    /** The relay's X25519 session key for this connection (authenticators are made with it). */
    readonly serverSessionKey: Uint8Array,
    private snd: Uint8Array,
    private rcv: Uint8Array,
    opts: Required<Pick<ConnectOptions, "commandTimeout" | "pingInterval" | "maxBlocksInFlight">>,
  ) {
    this.closed = new Promise((r) => (this.closedResolve = r));
    this.window = new BlockWindow({
      maxBlocksInFlight: opts.maxBlocksInFlight,
      commandTimeout: opts.commandTimeout,
      // Looked up on each call: bench/messages.ts wraps writeBlock to time SENDs on the wire.
      sendBlock: (content) => this.writeBlock(content),
    });
    if (opts.pingInterval > 0) {
      this.pingTimer = setInterval(() => void this.ping().catch(() => {}), opts.pingInterval);
      (this.pingTimer as { unref?: () => void }).unref?.();
    }
  }

  get isOpen(): boolean {
    return this.closeInfo === null;
  }

  /** Blocks sent whose commands have not all had their reply yet (at most maxBlocksInFlight). */
  get blocksInFlight(): number {
    return this.window.blocksInFlight;
  }

  /** Commands called and not sent yet: waiting for room in the window, or being signed. */
  get commandsWaiting(): number {
    return this.window.commandsWaiting;
  }

  /**
   * Sends a command and resolves with the relay's reply (ERR included: see `command`). Commands go
   * on the wire in call order, signed ones included, at most maxBlocksInFlight blocks at a time.
   * `opts.corrId` chooses the corrId (see RequestOptions); a wrong length rejects with RangeError.
   */
  async request(entityId: Uint8Array, cmd: ClientCommand, auth?: CommandAuth, opts: RequestOptions = {}): Promise<ServerResponse> {
    if (opts.corrId !== undefined && opts.corrId.length !== CORR_ID_LENGTH) {
      throw new RangeError(`corrId must be ${CORR_ID_LENGTH} bytes, got ${opts.corrId.length}`);
    }
    const corrId = opts.corrId ?? randomBytes(CORR_ID_LENGTH);
    const signed = encodeSigned(corrId, entityId, encodeCommand(cmd));
    if (!auth) return this.requestRaw(corrId, encodeClientTransmission(new Uint8Array(0), signed));
    // Its place in the send order is taken now, before the (asynchronous) signing.
    const slot = this.window.reserve(corrId);
    this.authorize(auth, corrId, signed).then(
      (authorization) => slot.fill(encodeClientTransmission(authorization, signed)),
      (e: unknown) => slot.fail(e instanceof Error ? e : new Error(String(e))),
    );
    return slot.reply;
  }

  private async authorize(auth: CommandAuth, corrId: Uint8Array, signed: Uint8Array): Promise<Uint8Array> {
    const secret = await this.authSecret(auth.x25519PrivateKey);
    return authenticatorWithSecret(secret, corrId, transmissionForAuth(this.sessionId, signed));
  }

  private authSecret(key: Uint8Array): Promise<Uint8Array> {
    let dh = this.authSecrets.get(key);
    if (dh === undefined) {
      dh = x25519(key, this.serverSessionKey);
      this.authSecrets.set(key, dh);
      // A key that fails (not a valid X25519 key) fails every time: keep no failed promise.
      dh.catch(() => this.authSecrets.delete(key));
    }
    return dh;
  }

  /** Like request, but an ERR reply rejects with SMPProtocolError. */
  async command(entityId: Uint8Array, cmd: ClientCommand, auth?: CommandAuth, opts?: RequestOptions): Promise<ServerResponse> {
    const r = await this.request(entityId, cmd, auth, opts);
    if (r.tag === "ERR") throw new SMPProtocolError(r.code);
    return r;
  }

  async ping(): Promise<void> {
    const r = await this.command(new Uint8Array(0), { tag: "PING" });
    if (r.tag !== "PONG") throw new Error(`unexpected reply to PING: ${r.tag}`);
  }

  /**
   * Sends an already-encoded transmission (in call order, within the window) and waits for the
   * reply with this corrId. One larger than a block rejects with RangeError.
   */
  requestRaw(corrId: Uint8Array, transmission: Uint8Array): Promise<ServerResponse> {
    const slot = this.window.reserve(corrId);
    slot.fill(transmission);
    return slot.reply;
  }

  /**
   * Waits for the reply with this corrId without sending anything: for tests and tools that put
   * their own frames on the wire (sealBlock, sendFrame). Its timeout counts from now, and such
   * frames are outside the window.
   */
  expectReply(corrId: Uint8Array): Promise<ServerResponse> {
    return this.window.expectReply(corrId);
  }

  /** Subscribes to pushes; returns the unsubscribe function. */
  onPush(listener: (p: Push) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** Pushes as an async iterator; ends when the connection closes. */
  async *pushes(): AsyncGenerator<Push> {
    const buf: Push[] = [];
    let wake: (() => void) | null = null;
    const off = this.onPush((p) => {
      buf.push(p);
      wake?.();
    });
    void this.closed.then(() => wake?.());
    try {
      for (;;) {
        const p = buf.shift();
        if (p) {
          yield p;
          continue;
        }
        if (this.closeInfo) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      off();
    }
  }

  /**
   * Encrypts block content with the next step of the send chain, without sending it.
   * For tests and tools that need to put unusual frames on the wire (see sendFrame).
   */
  sealBlock(content: Uint8Array): Uint8Array {
    const r = encryptBlock(this.snd, content);
    this.snd = r.next;
    return r.block;
  }

  /** Puts raw bytes on the wire as one frame. For tests and tools. */
  sendFrame(frame: Uint8Array): void {
    this.ws.send(frame);
  }

  close(): void {
    this.ws.close(1000, "");
    this.shutdown(new ConnectionClosedError(1000, "closed by client"));
  }

  /** Seals one block of commands (an encoded batch) and sends it; the window decides when. */
  private writeBlock(content: Uint8Array): void {
    this.ws.send(this.sealBlock(content));
    this.stats.blocksSent++;
  }

  /** @internal */
  onFrame(frame: Uint8Array): void {
    this.stats.blocksReceived++;
    const { content, next } = decryptBlock(this.rcv, frame);
    this.rcv = next;
    if (content === null) {
      // Our receive chain no longer matches the relay's: nothing later can be read.
      this.ws.close(1002, "BLOCK");
      this.shutdown(new ConnectionClosedError(1002, "undecryptable block from relay"));
      return;
    }
    for (const raw of decodeBatch(content)) {
      const t = decodeServerTransmission(raw);
      const response = decodeResponse(t.command);
      // An empty corrId is a push, never a reply. A MSG that replies to GET or ACK is still a delivery.
      const replied = t.corrId.length > 0 && this.window.deliver(t.corrId, response);
      if (replied && response.tag !== "MSG") continue;
      for (const l of this.pushListeners) l({ entityId: t.entityId, response });
    }
  }

  /** @internal */
  shutdown(info: ConnectionClosedError): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    if (this.pingTimer) clearInterval(this.pingTimer);
    // Sent and waiting commands alike fail with this error.
    this.window.close(info);
    this.closedResolve(info);
  }
}

/**
 * Opens a connection to the relay at `url` (ws:// or wss://) and verifies that it holds the
 * identity `keyHash` (from the relay's smp:// address). Rejects if the relay cannot prove it.
 */
export async function connect(url: string, keyHash: Uint8Array, options: ConnectOptions = {}): Promise<SMPClient> {
  const maxBlocksInFlight = options.maxBlocksInFlight ?? DEFAULT_MAX_BLOCKS_IN_FLIGHT;
  checkMaxBlocksInFlight(maxBlocksInFlight); // before a socket is opened
  const WS = options.WebSocket ?? defaultWebSocket();
  const challenge = randomBytes(32);
  const ws = new WS(`${url}${url.includes("?") ? "&" : "?"}challenge=${base64url.encode(challenge)}`);
  ws.binaryType = "arraybuffer";

  // Listeners go on before anything can arrive, so the hello is never missed.
  let client: SMPClient | null = null;
  const early: Uint8Array[] = [];
  let waiter: ((f: Uint8Array | Error) => void) | null = null;
  let failure: Error | null = null;
  const fail = (e: Error): void => {
    failure ??= e;
    waiter?.(e);
  };
  ws.addEventListener("message", (ev: MessageEvent) => {
    const f = frameBytes(ev.data);
    if (f === null) return;
    if (client) {
      try {
        client.onFrame(f);
      } catch (e) {
        ws.close(1002, "bad block");
        client.shutdown(new ConnectionClosedError(1002, `bad block from relay: ${(e as Error).message}`));
      }
    } else if (waiter) waiter(f);
    else early.push(f);
  });
  ws.addEventListener("close", (ev: CloseEvent) => {
    const info = new ConnectionClosedError(ev.code, ev.reason);
    if (client) client.shutdown(info);
    else fail(info);
  });
  ws.addEventListener("error", () => fail(new ConnectionClosedError(1006, "WebSocket error")));

  const nextFrame = (ms: number): Promise<Uint8Array> =>
    new Promise((resolve, reject) => {
      const f = early.shift();
      if (f) return resolve(f);
      if (failure) return reject(failure);
      const timer = setTimeout(() => {
        waiter = null;
        reject(new TimeoutError(`no server hello within ${ms} ms`));
      }, ms);
      waiter = (x) => {
        clearTimeout(timer);
        waiter = null;
        if (x instanceof Error) reject(x);
        else resolve(x);
      };
    });

  try {
    const helloFrame = await nextFrame(options.handshakeTimeout ?? 10_000);
    const hello = decodeServerHello(unpad(helloFrame));
    if (hello.maxVersion < SMP_VERSION || hello.minVersion > SMP_VERSION) {
      throw new Error(`relay speaks SMP ${hello.minVersion}..${hello.maxVersion}, not ${SMP_VERSION}`);
    }
    const { sessionKey } = await verifyServerHello(hello, keyHash, challenge);
    const own = await generateX25519();
    const chains = chainInit(hello.sessionId, await x25519(own.privateKey, sessionKey));
    const helloOut = encodeClientHello({
      version: SMP_VERSION,
      keyHash,
      clientKey: encodePublicKey({ alg: "x25519", raw: own.publicKey }),
      proxyServer: false,
      clientService: null,
    });
    if (failure) throw failure;
    ws.send(pad(helloOut, BLOCK_SIZE));
    client = new SMPClient(ws, hello.sessionId, sessionKey, chains.b, chains.a, {
      commandTimeout: options.commandTimeout ?? 10_000,
      pingInterval: options.pingInterval ?? 600_000,
      maxBlocksInFlight,
    });
    for (const f of early.splice(0)) client.onFrame(f);
    return client;
  } catch (e) {
    try {
      ws.close(1000, "");
    } catch {
      // not open yet
    }
    throw e;
  }
}
