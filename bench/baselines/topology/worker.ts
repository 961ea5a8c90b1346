// Baseline B for the bench (bench/baselines.ts): the relay's topology with no crypto and no
// storage. One Session object per WebSocket (Hibernation API, frames handled one after another
// as the relay's Session does), one Queue object per queue (by name). A SEND goes from the
// sender's Session to the Queue by RPC; the Queue pushes it by RPC to its subscriber's Session,
// which sends it on its socket; the recipient's ACK goes from its Session to the Queue by RPC,
// and its reply carries the next message if one is waiting. Every command gets a 16384-byte
// reply, like the relay's blocks. State is in memory only. Never deployed: it exists only under
// `wrangler dev -c bench/baselines/topology/wrangler.toml`.
import { DurableObject } from "cloudflare:workers";
import { FRAME_BYTES, OP_ACK, OP_MSG, OP_OK, OP_SEND, OP_SUB, opOf, queueOf } from "../frames.js";

interface TopologyEnv {
  SESSION: DurableObjectNamespace<Session>;
  QUEUE: DurableObjectNamespace<Queue>;
}

const OK = new Uint8Array(FRAME_BYTES);
OK[0] = OP_OK;

export class Session extends DurableObject<TopologyEnv> {
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
    const { run } = ws.deserializeAttachment() as { run: string };
    const queue = this.env.QUEUE.getByName(`${run}:${queueOf(f)}`);
    switch (opOf(f)) {
      case OP_SUB: {
        const head = await queue.sub(this.ctx.id.toString());
        ws.send(OK);
        if (head) ws.send(head);
        return;
      }
      case OP_SEND:
        await queue.send(message);
        ws.send(OK);
        return;
      case OP_ACK:
        ws.send((await queue.ack()) ?? OK);
        return;
      default:
        ws.close(1003, "op");
    }
  }
}

export class Queue extends DurableObject<TopologyEnv> {
  private subscriber: string | null = null;
  private readonly messages: ArrayBuffer[] = [];

  sub(session: string): ArrayBuffer | null {
    this.subscriber = session;
    return this.messages[0] ?? null;
  }

  send(message: ArrayBuffer): void {
    new Uint8Array(message)[0] = OP_MSG;
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
