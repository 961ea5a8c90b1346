// Baseline A for the bench (bench/baselines.ts): the simplest relay one could write. One Durable
// Object per room, WebSockets accepted with the Hibernation API, every binary message forwarded
// as it is to the room's other socket(s). No parsing, no crypto, no storage. Never deployed: it
// exists only under `wrangler dev -c bench/baselines/forward/wrangler.toml`.
import { DurableObject } from "cloudflare:workers";

interface ForwardEnv {
  ROOM: DurableObjectNamespace<Room>;
}

export class Room extends DurableObject<ForwardEnv> {
  override fetch(): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    for (const other of this.ctx.getWebSockets()) if (other !== ws) other.send(message);
  }
}

export default {
  fetch(request: Request, env: ForwardEnv): Response | Promise<Response> {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade")?.toLowerCase() === "websocket") {
      return env.ROOM.getByName(url.searchParams.get("room") ?? "").fetch(request);
    }
    if (url.pathname === "/health") return new Response("ok");
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<ForwardEnv>;
