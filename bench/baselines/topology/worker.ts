// Baseline B for the bench (bench/baselines.ts): the relay's topology with no crypto and no
// storage. One Session object per WebSocket (Hibernation API, frames handled one after another
// as the relay's Session does), one Queue object per queue (by name). A SEND goes from the
// sender's Session to the Queue by RPC; the Queue pushes it by RPC to its subscriber's Session,
// which sends it on its socket; the recipient's ACK goes from its Session to the Queue by RPC,
// and its reply carries the next message if one is waiting. Every command gets a 16384-byte
// reply, like the relay's blocks. State is in memory only. Never deployed: it exists only under
// `wrangler dev -c bench/baselines/topology/wrangler.toml`.
//
// The var WORK adds, for the bench's "floor" baselines, the work no SMP relay can skip:
// - "storage": the Queue stores each message durably (SQLite INSERT of its 16 KB on SEND,
//   DELETE on ACK), so a message survives a restart before it is delivered;
// - "storage+crypto": that, plus one XSalsa20-Poly1305 over 16 KB for every frame a Session
//   receives and sends (the protocol's block encryption) and one in the Queue for each message
//   (its encryption for the recipient). No parsing, no authorization checks, no key schedule: a
//   lower bound, not a relay. The cipher is the relay's own secretbox, on libsodium started as the
//   relay starts it (src/server/sodium.ts), or on @noble with the var CIPHER = "noble".
// - "storage+crypto+auth": that, plus what checking an X25519 authenticator costs for every frame
//   a Session receives (the relay checks one on every SEND and ACK): SHA-512 over the 16 KB frame
//   and one X25519 (WebCrypto, as src/crypto/authenticator.ts does), then the 16-byte box open.
import { DurableObject } from "cloudflare:workers";
import { secretboxSeal } from "../../../src/crypto/secretboxBackend.js";
import { startLibsodium } from "../../../src/server/sodium.js";
import { FRAME_BYTES, OP_ACK, OP_MSG, OP_OK, OP_SEND, OP_SUB, opOf, queueOf } from "../frames.js";

interface TopologyEnv {
  SESSION: DurableObjectNamespace<Session>;
  QUEUE: DurableObjectNamespace<Queue>;
  WORK?: string;
  /** "noble" keeps the secretbox on @noble; anything else starts libsodium, as the relay does. */
  CIPHER?: string;
}

const OK = new Uint8Array(FRAME_BYTES);
OK[0] = OP_OK;

const KEY = new Uint8Array(32).fill(1);
const NONCE = new Uint8Array(24).fill(2);
/** A 16 KB block's worth of XSalsa20-Poly1305 (the size the relay's blocks and messages seal). */
function seal16k(frame: ArrayBuffer | Uint8Array): void {
  secretboxSeal(KEY, NONCE, new Uint8Array(frame).subarray(0, FRAME_BYTES - 16));
}
/** On an object's first event (never at module scope), as the relay's objects do. */
function startCipher(env: TopologyEnv): void {
  if (sealsFrames(env) && env.CIPHER !== "noble") void startLibsodium();
}
const sealsFrames = (env: TopologyEnv): boolean => env.WORK === "storage+crypto" || env.WORK === "storage+crypto+auth";
const storage = (env: TopologyEnv): boolean => env.WORK === "storage" || sealsFrames(env);
const checksAuth = (env: TopologyEnv): boolean => env.WORK === "storage+crypto+auth";

/** One authenticator check's work: SHA-512 of the frame, X25519 with a fixed peer, and a box open of the hash. */
let authKeys: Promise<{ priv: CryptoKey; pub: CryptoKey }> | null = null;
async function checkAuth(frame: Uint8Array): Promise<void> {
  authKeys ??= (async () => {
    const a = (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair;
    const b = (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair;
    return { priv: a.privateKey, pub: b.publicKey };
  })();
  const { priv, pub } = await authKeys;
  const [hash, dh] = await Promise.all([crypto.subtle.digest("SHA-512", frame), crypto.subtle.deriveBits({ name: "X25519", public: pub } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0], priv, 256)]);
  secretboxSeal(new Uint8Array(dh), NONCE, new Uint8Array(hash));
}

export class Session extends DurableObject<TopologyEnv> {
  constructor(ctx: DurableObjectState, env: TopologyEnv) {
    super(ctx, env);
    startCipher(env);
  }

  private tail: Promise<void> = Promise.resolve();

  override fetch(request: Request): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    // Queue names are scoped by the client's run, so every run starts with empty queues.
    server.serializeAttachment({ run: new URL(request.url).searchParams.get("run") ?? "" });
    return new Response(null, { status: 101, webSocket: client });
  }

  /** RPC from a Queue: a message for this connection's subscriber. */
  push(message: ArrayBuffer): boolean {
    const ws = this.ctx.getWebSockets()[0];
    if (!ws) return false;
    if (sealsFrames(this.env)) seal16k(message);
    ws.send(message);
    return true;
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const run = this.tail.then(() => this.onFrame(ws, message));
    this.tail = run.catch(() => {});
    return run;
  }

  private async onFrame(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message === "string" || message.byteLength !== FRAME_BYTES) return ws.close(1003, "frame");
    const f = new Uint8Array(message);
    const sealing = sealsFrames(this.env);
    if (sealing) seal16k(f);
    if (checksAuth(this.env) && (opOf(f) === OP_SEND || opOf(f) === OP_ACK)) await checkAuth(f);
    const { run } = ws.deserializeAttachment() as { run: string };
    const queue = this.env.QUEUE.getByName(`${run}:${queueOf(f)}`);
    switch (opOf(f)) {
      case OP_SUB: {
        const head = await queue.sub(this.ctx.id.toString());
        if (sealing) seal16k(OK);
        ws.send(OK);
        if (head) {
          if (sealing) seal16k(head);
          ws.send(head);
        }
        return;
      }
      case OP_SEND:
        await queue.send(message);
        if (sealing) seal16k(OK);
        ws.send(OK);
        return;
      case OP_ACK: {
        const reply = (await queue.ack()) ?? OK;
        if (sealing) seal16k(reply);
        ws.send(reply);
        return;
      }
      default:
        ws.close(1003, "op");
    }
  }
}

export class Queue extends DurableObject<TopologyEnv> {
  constructor(ctx: DurableObjectState, env: TopologyEnv) {
    super(ctx, env);
    startCipher(env);
  }

  private subscriber: string | null = null;
  private readonly messages: ArrayBuffer[] = [];
  private tableMade = false;

  /** The messages' table, made on first use ("storage" and "storage+crypto" only). */
  private get sql(): SqlStorage {
    const sql = this.ctx.storage.sql;
    if (!this.tableMade) sql.exec("CREATE TABLE IF NOT EXISTS msg (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    this.tableMade = true;
    return sql;
  }

  sub(session: string): ArrayBuffer | null {
    this.subscriber = session;
    return this.messages[0] ?? null;
  }

  send(message: ArrayBuffer): void {
    new Uint8Array(message)[0] = OP_MSG;
    if (sealsFrames(this.env)) seal16k(message);
    // Committed before anything the object sends next leaves it (the output gate), as the relay's.
    if (storage(this.env)) this.sql.exec("INSERT INTO msg (body) VALUES (?)", message);
    this.messages.push(message);
    // One message outstanding per queue: push only into an empty queue; the rest go out as ACK replies.
    if (this.messages.length === 1 && this.subscriber !== null) {
      const session = this.env.SESSION.get(this.env.SESSION.idFromString(this.subscriber));
      // Not awaited, like the relay's pushTo: the SEND's reply does not wait for the push.
      void session.push(message).catch(() => {});
    }
  }

  ack(): ArrayBuffer | null {
    this.messages.shift();
    if (storage(this.env)) this.sql.exec("DELETE FROM msg WHERE seq = (SELECT MIN(seq) FROM msg)");
    return this.messages[0] ?? null;
  }
}

export default {
  fetch(request: Request, env: TopologyEnv): Response | Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() === "websocket") {
      return env.SESSION.get(env.SESSION.newUniqueId()).fetch(request);
    }
    if (new URL(request.url).pathname === "/health") return new Response("ok");
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<TopologyEnv>;
