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

  send(data: Uint8Array | ArrayBuffer): void {
    this.ws?.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws?.close(code, reason);
  }

  addEventListener(type: "open" | "message" | "close" | "error", listener: Listener): void {
    this.listeners[type]?.push(listener);
  }

  private emit(type: string, ev: object): void {
    for (const l of this.listeners[type] ?? []) (l as (e: object) => void)(ev);
  }
}
