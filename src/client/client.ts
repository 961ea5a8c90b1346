// SMP client over WebSocket: connect with an identity challenge, verify the relay against the
// keyHash from its address, then exchange encrypted blocks and match replies by corrId.
import { base64url } from "../protocol/base64.js";
import { decodeBatch, encodeBatch, packBatches } from "../protocol/batch.js";
import { decodeResponse, encodeCommand, type ClientCommand, type ServerResponse } from "../protocol/commands.js";
import { hex } from "../protocol/encoding.js";
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
import { ConnectionClosedError, SMPProtocolError, TimeoutError } from "./errors.js";
import { defaultWebSocket, frameBytes, type WebSocketConstructor, type WebSocketLike } from "./socket.js";
import { verifyServerHello } from "./verifyServer.js";

export interface ConnectOptions {
  /** WebSocket implementation; defaults to the global one (browsers, Node 22+). */
  WebSocket?: WebSocketConstructor;
  /** Keep-alive PING interval in ms (smp-web: 600 s). 0 turns it off. */
  pingInterval?: number;
  /** How long a command waits for its reply, in ms. */
  commandTimeout?: number;
  /** How long to wait for the relay's hello, in ms. */
  handshakeTimeout?: number;
}

/** A transmission the relay sent without being asked (MSG, END, DELD, ERR with no corrId). */
export interface Push {
  entityId: Uint8Array;
  response: ServerResponse;
}

interface Pending {
  resolve: (r: ServerResponse) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Signs a command as the holder of an X25519 queue key (the authenticator kind smp-web uses). */
export interface CommandAuth {
  x25519PrivateKey: Uint8Array;
}

export class SMPClient {
  private pending = new Map<string, Pending>();
  private outbox: Uint8Array[] = [];
  private flushScheduled = false;
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
    private readonly opts: Required<Pick<ConnectOptions, "commandTimeout" | "pingInterval">>,
  ) {
    this.closed = new Promise((r) => (this.closedResolve = r));
    if (opts.pingInterval > 0) {
      this.pingTimer = setInterval(() => void this.ping().catch(() => {}), opts.pingInterval);
      (this.pingTimer as { unref?: () => void }).unref?.();
    }
  }

  get isOpen(): boolean {
    return this.closeInfo === null;
  }

  /** Sends a command and resolves with the relay's reply (ERR included: see `command`). */
  async request(entityId: Uint8Array, cmd: ClientCommand, auth?: CommandAuth): Promise<ServerResponse> {
    const corrId = randomBytes(24);
    const signed = encodeSigned(corrId, entityId, encodeCommand(cmd));
    const authorization = auth
      ? await authenticatorWithSecret(await this.authSecret(auth.x25519PrivateKey), corrId, transmissionForAuth(this.sessionId, signed))
      : new Uint8Array(0);
    return this.requestRaw(corrId, encodeClientTransmission(authorization, signed));
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
  async command(entityId: Uint8Array, cmd: ClientCommand, auth?: CommandAuth): Promise<ServerResponse> {
    const r = await this.request(entityId, cmd, auth);
    if (r.tag === "ERR") throw new SMPProtocolError(r.code);
    return r;
  }

  async ping(): Promise<void> {
    const r = await this.command(new Uint8Array(0), { tag: "PING" });
    if (r.tag !== "PONG") throw new Error(`unexpected reply to PING: ${r.tag}`);
  }

  /** Sends an already-encoded transmission and waits for the reply with this corrId. */
  requestRaw(corrId: Uint8Array, transmission: Uint8Array): Promise<ServerResponse> {
    const reply = this.expectReply(corrId);
    if (this.isOpen) this.enqueue(transmission);
    return reply;
  }

  /**
   * Waits for the reply with this corrId without sending anything: for tests and tools that put
   * their own frames on the wire (sealBlock, sendFrame).
   */
  expectReply(corrId: Uint8Array): Promise<ServerResponse> {
    if (this.closeInfo) return Promise.reject(this.closeInfo);
    const key = hex(corrId);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new TimeoutError(`no reply within ${this.opts.commandTimeout} ms`));
      }, this.opts.commandTimeout);
      this.pending.set(key, { resolve, reject, timer });
    });
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

  private enqueue(t: Uint8Array): void {
    this.outbox.push(t);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Commands issued in the same turn share blocks.
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const items = this.outbox;
    this.outbox = [];
    if (this.closeInfo) return;
    for (const batch of packBatches(items)) {
      this.ws.send(this.sealBlock(encodeBatch(batch)));
      this.stats.blocksSent++;
    }
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
      const p = t.corrId.length > 0 ? this.pending.get(hex(t.corrId)) : undefined;
      if (p) {
        this.pending.delete(hex(t.corrId));
        clearTimeout(p.timer);
        p.resolve(response);
        // A MSG that replies to GET or ACK is still a delivery.
        if (response.tag !== "MSG") continue;
      }
      for (const l of this.pushListeners) l({ entityId: t.entityId, response });
    }
  }

  /** @internal */
  shutdown(info: ConnectionClosedError): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(info);
    }
    this.pending.clear();
    this.closedResolve(info);
  }
}

/**
 * Opens a connection to the relay at `url` (ws:// or wss://) and verifies that it holds the
 * identity `keyHash` (from the relay's smp:// address). Rejects if the relay cannot prove it.
 */
export async function connect(url: string, keyHash: Uint8Array, options: ConnectOptions = {}): Promise<SMPClient> {
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
