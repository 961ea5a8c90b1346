// A bare SMP connection inside workerd for delivery-model.test.ts: the handshake done here (as
// test/helpers/rawConn.ts does over Node's `ws`), every transmission the relay sends decrypted
// and recorded in arrival order, corrId included, so "the reply, then the push it caused" can be
// checked as it came. It does not use src/client, which may change its batching or timing.
import { env, SELF } from "cloudflare:test";
import { verifyServerHello } from "../../src/client/verifyServer.js";
import { makeAuthenticator } from "../../src/crypto/authenticator.js";
import { chainInit, decryptBlock, encryptBlock } from "../../src/crypto/blockCipher.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519, x25519 } from "../../src/crypto/x25519.js";
import { base64url } from "../../src/protocol/base64.js";
import { parseAddress } from "../../src/protocol/address.js";
import { decodeBatch, encodeBatch } from "../../src/protocol/batch.js";
import { decodeResponse, encodeCommand, type ClientCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { hex } from "../../src/protocol/encoding.js";
import { decodeServerHello, encodeClientHello, SMP_VERSION } from "../../src/protocol/hello.js";
import { BLOCK_SIZE, pad, unpad } from "../../src/protocol/padding.js";
import { decodeServerTransmission, encodeClientTransmission, encodeSigned, transmissionForAuth } from "../../src/protocol/transmission.js";
import type { SessionDO } from "../../src/server/session.js";

const EMPTY = new Uint8Array(0);
/** How long a command waits for its reply. */
const REPLY_MS = 10_000;


export interface Received {
  /** hex; "" for a push. */
  corrId: string;
  entityId: string;
  response: ServerResponse;
}

export class TestConn {
  private readonly listeners: ((r: Received) => void)[] = [];
  private readonly replies = new Map<string, { resolve: (r: ServerResponse) => void; reject: (e: Error) => void }>();
  private open = true;
  /** Why the socket closed, once it did. */
  closeReason = "";

  private constructor(
    private readonly ws: WebSocket,
    readonly sessionId: Uint8Array,
    /** The relay's X25519 session key for this connection (authenticators are bound to it). */
    readonly serverSessionKey: Uint8Array,
    private snd: Uint8Array,
    private rcv: Uint8Array,
  ) {
    ws.addEventListener("message", (e) => this.onFrame(new Uint8Array(e.data as ArrayBuffer)));
    ws.addEventListener("close", (e) => {
      this.open = false;
      this.closeReason ||= `closed by the relay: ${e.code} ${e.reason}`;
      for (const w of this.replies.values()) w.reject(new Error(`no reply: ${this.closeReason}`));
      this.replies.clear();
    });
  }

  /** Connects, completes the handshake, and finds the Session object serving the connection. */
  static open(): Promise<{ conn: TestConn; session: DurableObjectStub<SessionDO> }> {
    return TestConn.openOnce();
  }

  private static keyHash: Uint8Array | undefined;

  private static async openOnce(): Promise<{ conn: TestConn; session: DurableObjectStub<SessionDO> }> {
    if (!TestConn.keyHash) {
      const health = (await (await SELF.fetch("http://relay.test/health")).json()) as { address: string };
      TestConn.keyHash = parseAddress(health.address).keyHash;
    }
    const keyHash = TestConn.keyHash;
    const challenge = randomBytes(32);
    // What the Worker does with an upgrade (worker.ts): a fresh Session object gets the request.
    // Done here, the test knows which object it is without listing them all.
    const session = env.SESSION.get(env.SESSION.newUniqueId());
    const res = await session.fetch(`http://relay.test/?challenge=${base64url.encode(challenge)}`, { headers: { Upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) throw new Error(`no WebSocket: ${res.status}`);
    const first = new Promise<Uint8Array>((resolve) => ws.addEventListener("message", (e) => resolve(new Uint8Array(e.data as ArrayBuffer)), { once: true }));
    ws.accept();
    (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
    const hello = decodeServerHello(unpad(await first));
    const { sessionKey } = await verifyServerHello(hello, keyHash, challenge);
    const own = await generateX25519();
    const chains = chainInit(hello.sessionId, await x25519(own.privateKey, sessionKey));
    const conn = new TestConn(ws, hello.sessionId, sessionKey, chains.b, chains.a);
    ws.send(
      pad(
        encodeClientHello({ version: SMP_VERSION, keyHash, clientKey: encodePublicKey({ alg: "x25519", raw: own.publicKey }), proxyServer: false, clientService: null }),
        BLOCK_SIZE,
      ),
    );
    // The first block only 20 ms after the hello: see PoolSocket.send (pool-socket.ts).
    await new Promise((r) => setTimeout(r, 20));
    await conn.ping();
    return { conn, session };
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Called with every transmission received, in order. */
  onReceive(l: (r: Received) => void): void {
    this.listeners.push(l);
  }

  private onFrame(frame: Uint8Array): void {
    const { content, next } = decryptBlock(this.rcv, frame);
    this.rcv = next;
    if (content === null) throw new Error("undecryptable block from the relay");
    for (const raw of decodeBatch(content)) {
      const t = decodeServerTransmission(raw);
      const r: Received = { corrId: hex(t.corrId), entityId: hex(t.entityId), response: decodeResponse(t.command) };
      for (const l of this.listeners) l(r);
      const waiting = r.corrId ? this.replies.get(r.corrId) : undefined;
      if (waiting) {
        this.replies.delete(r.corrId);
        waiting.resolve(r.response);
      }
    }
  }

  /** A transmission of `cmd`, authorized with this X25519 private key, or unsigned. */
  async transmission(corrId: Uint8Array, entityId: Uint8Array, cmd: ClientCommand, key: Uint8Array | null): Promise<Uint8Array> {
    const signed = encodeSigned(corrId, entityId, encodeCommand(cmd));
    const auth = key ? await makeAuthenticator(this.serverSessionKey, key, corrId, transmissionForAuth(this.sessionId, signed)) : EMPTY;
    return encodeClientTransmission(auth, signed);
  }

  /** Seals these transmissions in one block and sends it. */
  sendBlock(items: Uint8Array[]): void {
    const r = encryptBlock(this.snd, encodeBatch(items));
    this.snd = r.next;
    this.ws.send(r.block);
  }

  /** Sends one transmission in a block of its own; resolves with its reply. */
  request(corrId: Uint8Array, t: Uint8Array): Promise<ServerResponse> {
    const key = hex(corrId);
    const reply = new Promise<ServerResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(key);
        reject(new Error(`no reply within ${REPLY_MS} ms${this.open ? "" : ` (${this.closeReason})`}`));
      }, REPLY_MS);
      this.replies.set(key, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    this.sendBlock([t]);
    return reply;
  }

  async ping(): Promise<void> {
    const corrId = randomBytes(24);
    const r = await this.request(corrId, await this.transmission(corrId, EMPTY, { tag: "PING" }, null));
    if (r.tag !== "PONG") throw new Error(`PING: ${r.tag}`);
  }

  close(): void {
    this.open = false;
    this.closeReason ||= "closed by the test";
    try {
      this.ws.close(1000, "");
    } catch {
      // already closing
    }
  }
}
