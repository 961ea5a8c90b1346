// What a Session keeps between frames. It lives in the WebSocket's attachment, so it survives
// hibernation and eviction of the object; nothing here is kept only in memory. While the object
// is awake, a copy is also kept in memory: the attachment is read several times per frame, and
// deserializing it each time cost about as much per message as decrypting a block.

export interface HandshakeState {
  phase: "handshake";
  sessionId: Uint8Array;
  /** This connection's X25519 key pair (raw); the public half went out signed in the hello. */
  sessionPriv: Uint8Array;
  sessionPub: Uint8Array;
  /** The relay identity the client must name in its hello. */
  keyHash: Uint8Array;
  /** When the hello must have come (ms since the epoch); a later frame closes the connection. */
  deadline?: number;
  /** True once the connection's statistics were flushed (sessionStats.ts finalFlush). */
  counted?: true;
}

export interface OpenState {
  phase: "open";
  sessionId: Uint8Array;
  sessionPriv: Uint8Array;
  sessionPub: Uint8Array;
  version: number;
  /** Chain keys: the relay sends with `snd` (chain A) and receives with `rcv` (chain B). */
  snd: Uint8Array;
  rcv: Uint8Array;
  /** Token bucket for NEW: tokens left, and when it was last refilled (ms). */
  newTokens: number;
  newAt: number;
  /** What this connection is to each queue it touched, packed (connEntries.ts); none when absent. */
  conns?: Uint8Array;
  /** True once an entry did not fit and went to the object's SQLite storage (connQueues.ts). */
  spilled?: boolean;
  /** This connection's statistics not flushed yet, packed (statsCounters.ts packCounts), and their UTC day. */
  counts?: Uint8Array;
  countDay?: number;
  /** True once the connection's statistics were flushed (sessionStats.ts finalFlush). */
  counted?: true;
}

export type SessionState = HandshakeState | OpenState;

/** The last state written or read per socket, while the object is in memory. Never ahead of the attachment. */
const awake = new WeakMap<WebSocket, SessionState>();

export function readState(ws: WebSocket): SessionState | null {
  const cached = awake.get(ws);
  if (cached !== undefined) return cached;
  const s = (ws.deserializeAttachment() as SessionState | null) ?? null;
  if (s !== null) awake.set(ws, s);
  return s;
}

/** Writes the attachment first: the in-memory copy only ever mirrors what survives hibernation. */
export function writeState(ws: WebSocket, s: SessionState): void {
  ws.serializeAttachment(s);
  awake.set(ws, s);
}
