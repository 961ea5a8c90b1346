// A bare SMP connection for tests that put unusual bytes on the wire: the WebSocket (`ws`), the
// handshake done by hand (or not at all), both chain keys in the open, and every transmission the
// relay sends recorded whole (corrId, entity, response), so tests can assert what came back
// byte for byte. Healthy traffic should go through src/client instead.
import WebSocket from "ws";
import { verifyServerHello } from "../../src/client/verifyServer.js";
import { makeAuthenticator } from "../../src/crypto/authenticator.js";
import { chainInit, chainStep, decryptBlock } from "../../src/crypto/blockCipher.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { boxKey, sealWithBoxKey } from "../../src/crypto/secretbox.js";
import { generateX25519, x25519 } from "../../src/crypto/x25519.js";
import { base64url } from "../../src/protocol/base64.js";
import { decodeBatch, encodeBatch } from "../../src/protocol/batch.js";
import { decodeResponse, encodeCommand, type ClientCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { hex } from "../../src/protocol/encoding.js";
import { decodeServerHello, encodeClientHello, SMP_VERSION, type ClientHello, type ServerHello } from "../../src/protocol/hello.js";
import { BLOCK_SIZE, ENCRYPTED_BLOCK_PAD, pad, unpad } from "../../src/protocol/padding.js";
import { decodeServerTransmission, encodeClientTransmission, encodeSigned, transmissionForAuth } from "../../src/protocol/transmission.js";

export interface CloseInfo {
  code: number;
  reason: string;
}

/** One transmission from the relay, as text: `corrId(hex)/entityId(hex)/RESPONSE`. */
export type Seen = string;

export function seen(corrId: Uint8Array, entityId: Uint8Array, response: string): Seen {
  return `${hex(corrId)}/${hex(entityId)}/${response}`;
}

export function responseText(r: ServerResponse): string {
  return r.tag === "ERR" ? `ERR ${r.code}` : r.tag;
}

const EMPTY = new Uint8Array(0);

/** A WebSocket to the relay with a fresh challenge; nothing sent yet. */
export class RawSocket {
  readonly ws: WebSocket;
  readonly challenge = randomBytes(32);
  readonly closed: Promise<CloseInfo>;
  /** Binary frames received, in order; text frames as strings. */
  readonly frames: (Uint8Array | string)[] = [];
  private wakers = new Set<() => void>();
  private closeInfo: CloseInfo | null = null;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(`${url}?challenge=${base64url.encode(this.challenge)}`);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.on("close", (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.wake();
        resolve(this.closeInfo);
      }),
    );
    this.ws.on("error", () => {});
    this.ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.frames.push(isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() : data.toString());
      this.wake();
    });
  }

  get isOpen(): boolean {
    return this.closeInfo === null;
  }

  /** Waits until `frames` holds more than `n` frames; rejects if the socket closes first. */
  async frameAfter(n: number, timeoutMs = 10_000): Promise<Uint8Array | string> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length <= n) {
      if (this.closeInfo) throw new Error(`closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for frame ${n}`);
      if (Date.now() > deadline) throw new Error(`no frame ${n} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(0, deadline - Date.now()));
        this.wakers.add(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames[n] as Uint8Array | string;
  }

  /** The server hello (frame 0), decoded. */
  async serverHello(): Promise<ServerHello> {
    const f = await this.frameAfter(0);
    if (typeof f === "string") throw new Error("text frame for a hello");
    return decodeServerHello(unpad(f));
  }

  send(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  protected wake(): void {
    const ws = [...this.wakers];
    this.wakers.clear();
    for (const w of ws) w();
  }
}

export interface HelloParts {
  keyHash: Uint8Array;
  /** Our X25519 public key, DER. */
  clientKey: Uint8Array;
}

/**
 * An SMP connection after a handshake done by hand. Every block the relay sends is decrypted
 * and its transmissions recorded in `received`; a block that does not decrypt is recorded as
 * `UNDECRYPTABLE` (the relay must never send one).
 */
export class RawConn {
  snd: Uint8Array;
  rcv: Uint8Array;
  readonly received: Seen[] = [];
  /** Decoded responses by corrId (hex), for tests that need more than the text. */
  readonly responses = new Map<string, ServerResponse>();
  private handled = 1; // frame 0 is the server hello

  private constructor(
    readonly sock: RawSocket,
    readonly sessionId: Uint8Array,
    /** The relay's X25519 session key for this connection (authenticators are bound to it). */
    readonly serverSessionKey: Uint8Array,
    chains: { a: Uint8Array; b: Uint8Array },
  ) {
    this.snd = chains.b;
    this.rcv = chains.a;
  }

  /**
   * Connects and completes the handshake. `helloFrames` may add frames to send right after the
   * client hello, before anything else can happen on the connection.
   */
  static async open(url: string, keyHash: Uint8Array, helloFrames: (c: RawConn) => (Uint8Array | string)[] = () => []): Promise<RawConn> {
    const sock = new RawSocket(url);
    await sock.opened;
    const hello = await sock.serverHello();
    const { sessionKey } = await verifyServerHello(hello, keyHash, sock.challenge);
    const own = await generateX25519();
    const chains = chainInit(hello.sessionId, await x25519(own.privateKey, sessionKey));
    const c = new RawConn(sock, hello.sessionId, sessionKey, chains);
    const helloOut: ClientHello = {
      version: SMP_VERSION,
      keyHash,
      clientKey: encodePublicKey({ alg: "x25519", raw: own.publicKey }),
      proxyServer: false,
      clientService: null,
    };
    sock.send(pad(encodeClientHello(helloOut), BLOCK_SIZE));
    for (const f of helloFrames(c)) sock.send(f);
    return c;
  }

  get isOpen(): boolean {
    return this.sock.isOpen;
  }

  get closed(): Promise<CloseInfo> {
    return this.sock.closed;
  }

  /** Seals a full 16368-byte padded plaintext with the next step of the send chain. */
  sealPadded(padded: Uint8Array): Uint8Array {
    if (padded.length !== ENCRYPTED_BLOCK_PAD) throw new RangeError(`padded plaintext of ${padded.length} bytes`);
    const s = chainStep(this.snd);
    this.snd = s.next;
    return sealWithBoxKey(boxKey(s.key), s.nonce, padded);
  }

  /** Seals block content (padded to 16368) with the next step of the send chain. */
  seal(content: Uint8Array): Uint8Array {
    return this.sealPadded(pad(content, ENCRYPTED_BLOCK_PAD));
  }

  send(frame: Uint8Array | string): void {
    this.sock.send(frame);
  }

  /** Seals and sends one block holding these transmissions. */
  sendBatch(items: Uint8Array[]): void {
    this.send(this.seal(encodeBatch(items)));
  }

  /** Handles every frame received so far (decrypt, decode, record). */
  private drain(): void {
    while (this.handled < this.sock.frames.length) {
      const f = this.sock.frames[this.handled++] as Uint8Array | string;
      if (typeof f === "string") {
        this.received.push(`TEXT ${f.slice(0, 40)}`);
        continue;
      }
      const { content, next } = decryptBlock(this.rcv, f);
      this.rcv = next;
      if (content === null) {
        this.received.push(`UNDECRYPTABLE ${f.length}`);
        continue;
      }
      for (const raw of decodeBatch(content)) {
        const t = decodeServerTransmission(raw);
        const r = decodeResponse(t.command);
        if (t.corrId.length > 0) this.responses.set(hex(t.corrId), r);
        this.received.push(seen(t.corrId, t.entityId, responseText(r)));
      }
    }
  }

  /** Waits until a transmission with this corrId has arrived; returns everything received so far. */
  async until(corrId: Uint8Array, timeoutMs = 15_000): Promise<Seen[]> {
    const prefix = `${hex(corrId)}/`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.drain();
      if (this.received.some((s) => s.startsWith(prefix))) return [...this.received];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply to ${hex(corrId)} within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`);
      await this.sock.frameAfter(this.sock.frames.length, left);
    }
  }

  /** Waits for the socket to close, then returns the close and everything received before it. */
  async closeAndReceived(): Promise<{ close: CloseInfo; received: Seen[] }> {
    const close = await this.sock.closed;
    this.drain();
    return { close, received: [...this.received] };
  }

  /** Forgets what was received so far (after it was checked). */
  clear(): void {
    this.drain();
    this.received.length = 0;
  }

  /** A PING transmission with a fresh corrId. */
  static ping(corrId: Uint8Array = randomBytes(24)): { corrId: Uint8Array; t: Uint8Array } {
    return { corrId, t: encodeClientTransmission(EMPTY, encodeSigned(corrId, EMPTY, encodeCommand({ tag: "PING" }))) };
  }

  /** Sends a PING in a block of its own and waits for its PONG; returns what came before it. */
  async ping(): Promise<Seen[]> {
    const p = RawConn.ping();
    this.sendBatch([p.t]);
    const got = await this.until(p.corrId);
    const last = got[got.length - 1];
    if (last !== seen(p.corrId, EMPTY, "PONG")) throw new Error(`expected PONG last, got ${JSON.stringify(got)}`);
    this.received.length = 0;
    return got.slice(0, -1);
  }

  /** A transmission of `cmd`, authorized for this connection with an X25519 key (or unsigned). */
  async transmission(entityId: Uint8Array, cmd: ClientCommand, x25519Priv?: Uint8Array, corrId: Uint8Array = randomBytes(24)): Promise<{ corrId: Uint8Array; t: Uint8Array }> {
    const signed = encodeSigned(corrId, entityId, encodeCommand(cmd));
    const auth = x25519Priv ? await makeAuthenticator(this.serverSessionKey, x25519Priv, corrId, transmissionForAuth(this.sessionId, signed)) : EMPTY;
    return { corrId, t: encodeClientTransmission(auth, signed) };
  }

  close(): void {
    this.sock.close();
  }
}
