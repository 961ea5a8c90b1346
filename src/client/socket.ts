// The little of WebSocket our client needs, so it runs on browsers' WebSocket, Node's `ws`
// package and Node 22's global WebSocket alike (all three have addEventListener and event.data).

export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (ev: never) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export function defaultWebSocket(): WebSocketConstructor {
  const ws = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!ws) throw new Error("no global WebSocket: pass one in the options (e.g. the `ws` package in Node 20)");
  return ws;
}

/** Normalizes a message event's data to bytes; null for text frames. */
export function frameBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}
