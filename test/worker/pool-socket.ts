// Our client library inside workerd: a WebSocketLike over the Worker's own fetch (SELF), so the
// pool tests drive the relay with the same client code as the Node tests.
import { SELF } from "cloudflare:test";
import type { WebSocketLike } from "../../src/client/socket.js";

type Listener = (ev: never) => void;

export class PoolSocket implements WebSocketLike {
  binaryType = "arraybuffer";
  readyState = 0;
  private ws: WebSocket | null = null;
  private listeners: Record<string, Listener[]> = { open: [], message: [], close: [], error: [] };

  constructor(url: string) {
    void SELF.fetch(url, { headers: { Upgrade: "websocket" } }).then(
      (res) => {
        const ws = res.webSocket;
        if (!ws) return this.emit("error", {});
        ws.accept();
        // Newer compatibility dates default to Blob frames, as browsers do.
        (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
        this.ws = ws;
        ws.addEventListener("message", (e) => this.emit("message", { data: e.data }));
        ws.addEventListener("close", (e) => {
          this.readyState = 3;
          this.emit("close", { code: e.code, reason: e.reason });
        });
        this.readyState = 1;
        this.emit("open", {});
      },
      () => this.emit("error", {}),
    );
  }

  /** Frames held back while the first one (the client hello) settles; null once it has. */
  private held: (Uint8Array | ArrayBuffer)[] | null = null;
  private sentFirst = false;

  /**
   * The first frame goes at once, later ones only 20 ms after it. workerd's in-process socket
   * (this test pool's, not a TCP connection) was seen handing the relay a connection's second
   * frame before its first, the client hello after the first command block, in about one
   * connection in a hundred; over real sockets (wrangler dev, 300 connections sending both at
   * once) never.
   */
  send(data: Uint8Array | ArrayBuffer): void {
    if (this.held !== null) {
      this.held.push(data);
      return;
    }
    this.ws?.send(data);
    if (this.sentFirst) return;
    this.sentFirst = true;
    this.held = [];
    setTimeout(() => {
      const frames = this.held ?? [];
      this.held = null;
      // Closed meanwhile: what was held goes nowhere, as on a socket closed before it flushed.
      if (this.readyState !== 1) return;
      try {
        for (const f of frames) this.ws?.send(f);
      } catch {
        // The relay closed it meanwhile; the close event says so.
      }
    }, 20);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === 1) this.readyState = 2;
    this.ws?.close(code, reason);
  }

  addEventListener(type: "open" | "message" | "close" | "error", listener: Listener): void {
    this.listeners[type]?.push(listener);
  }

  private emit(type: string, ev: object): void {
    for (const l of this.listeners[type] ?? []) (l as (e: object) => void)(ev);
  }
}
