// The bench's baselines (bench/baselines/*/worker.ts), started under their own `wrangler dev` and
// driven the way bench/messages.ts drives the relay's throughput phases: a sender and a recipient
// connection, Q queues in flight at once, one message outstanding per queue, the next SEND as
// soon as the previous message reaches the recipient, together with its acknowledgement. Every
// frame is 16384 bytes, like the relay's blocks.
//
// - forward (baseline A): the simplest relay, one Durable Object per room forwarding each frame to
//   the room's other socket. The recipient's acknowledgement is forwarded to the sender, which
//   ignores it (the relay's ACK goes to the relay and comes back as OK).
// - topology (baseline B): the relay's objects and RPCs without crypto or storage. Per message:
//   SEND (Session → Queue RPC, OK reply), the push (Queue → Session RPC, MSG frame), ACK
//   (Session → Queue RPC, reply OK or the next message).
import WebSocket from "ws";
import type { RunningRelay } from "../test/helpers/relay.js";
import { frame, FRAME_BYTES, OP_ACK, OP_ACKNOWLEDGE, OP_DATA, OP_MSG, OP_OK, OP_SEND, OP_SUB, opOf, queueOf } from "./baselines/frames.js";
import { startBenchWorker } from "./wrangler.js";

export type BaselineKind = "forward" | "topology" | "storage" | "floor" | "floorNoble" | "floorAuth";

const TOPOLOGY = "bench/baselines/topology/wrangler.toml";

/**
 * A and B are the baselines. The two floors are B with the work every SMP relay must do
 * (bench/baselines/topology/worker.ts, var WORK): durable storage of each message, and that
 * plus the XSalsa20-Poly1305 of every block and message (on the relay's backend, libsodium; and
 * on @noble once more, at two loads). They bound what any relay with this topology, durable
 * messages and this crypto library can reach on this machine.
 */
export const BASELINES: Record<BaselineKind, { label: string; short: string; config: string; vars?: Record<string, string> }> = {
  forward: { label: "baseline A (forward)", short: "A", config: "bench/baselines/forward/wrangler.toml" },
  topology: { label: "baseline B (topology)", short: "B", config: TOPOLOGY },
  storage: { label: "floor S (B + storage)", short: "S", config: TOPOLOGY, vars: { WORK: "storage" } },
  floor: { label: "floor F (S + crypto)", short: "F", config: TOPOLOGY, vars: { WORK: "storage+crypto", CIPHER: "libsodium" } },
  // F again with the cipher on @noble: what libsodium saves in a whole message path (issue 13).
  floorNoble: { label: "floor F on @noble", short: "Fn", config: TOPOLOGY, vars: { WORK: "storage+crypto", CIPHER: "noble" } },
  // F plus the authenticator checks of every SEND and ACK: how much of the relay's distance to F
  // the protocol's authorization alone explains (issue 13).
  floorAuth: { label: "floor FA (F + authorization)", short: "FA", config: TOPOLOGY, vars: { WORK: "storage+crypto+auth", CIPHER: "libsodium" } },
};

/** B and the floors speak B's frames; A forwards between the two sockets of a room. */
export const isTopology = (kind: BaselineKind): boolean => kind !== "forward";

export function startBaseline(kind: BaselineKind): Promise<RunningRelay> {
  const b = BASELINES[kind];
  return startBenchWorker({ config: b.config, readyPath: "/health", label: b.label, vars: b.vars });
}

/** A socket with one replaceable frame handler (each loop installs its own). */
export interface Conn {
  ws: WebSocket;
  onFrame: (f: Uint8Array) => void;
  close(): void;
}

/** Opens a WebSocket to `url`; frames go to conn.onFrame, which by default rejects any frame. */
export function openConn(url: string, timeoutMs = 20_000): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const conn: Conn = {
      ws,
      onFrame: (f) => {
        throw new Error(`unexpected frame (op ${opOf(f)}) outside a loop`);
      },
      close: () => ws.close(),
    };
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${url}: no connection after ${timeoutMs} ms`));
    }, timeoutMs);
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length !== FRAME_BYTES) throw new Error(`${url}: a frame that is not ${FRAME_BYTES} binary bytes`);
      conn.onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    ws.once("open", () => {
      clearTimeout(timer);
      resolve(conn);
    });
    ws.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export interface BaselinePair {
  kind: BaselineKind;
  sender: Conn;
  recipient: Conn;
  /** Scopes room and queue names, so every pair starts empty. */
  scope: string;
  close(): void;
}

let pairs = 0;

/** A sender and a recipient: in one room (forward), or on two Session objects (topology). */
export async function openPair(kind: BaselineKind, wsUrl: string): Promise<BaselinePair> {
  const scope = `p${++pairs}-${Date.now().toString(36)}`;
  const url = kind === "forward" ? `${wsUrl}?room=${scope}` : `${wsUrl}?run=${scope}`;
  const sender = await openConn(url);
  const recipient = await openConn(url).catch((e: unknown) => {
    sender.close();
    throw e;
  });
  return {
    kind,
    sender,
    recipient,
    scope,
    close: () => {
      sender.close();
      recipient.close();
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Topology: SUB to queues [from, to) on the recipient's Session; resolves when every SUB is answered. */
export async function subscribeQueues(p: BaselinePair, from: number, to: number, timeoutMs = 20_000): Promise<void> {
  if (!isTopology(p.kind)) return;
  let oks = 0;
  const want = to - from;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`SUB: ${oks} of ${want} answered after ${timeoutMs} ms`)), timeoutMs);
    p.recipient.onFrame = (f) => {
      if (opOf(f) !== OP_OK) return reject(new Error(`SUB: expected OK, got op ${opOf(f)}`));
      if (++oks === want) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  for (let q = from; q < to; q++) p.recipient.ws.send(frame(OP_SUB, q));
  await done;
}

export interface BaselineLoopResult {
  completed: number;
}

/** Sequence number of a message within its queue, in bytes 5..8 (checked on arrival). */
function withSeq(f: Uint8Array, seq: number): Uint8Array {
  new DataView(f.buffer).setUint32(5, seq);
  return f;
}
const seqOf = (f: Uint8Array): number => new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(5);

/**
 * `queues` queues in flight (indexes [first, first + queues)), `total` messages spread over them,
 * one outstanding per queue, the same as bench/messages.ts throughput(). Samples: send called →
 * message reached the recipient's socket (its frame handler).
 */
export function closedLoop(p: BaselinePair, first: number, queues: number, total: number, deadline: number, samples: number[]): Promise<BaselineLoopResult> {
  const share = (i: number): number => Math.floor(total / queues) + (i < total % queues ? 1 : 0);
  const state = Array.from({ length: queues }, (_, i) => ({ q: first + i, quota: share(i), sent: 0, received: 0, t0: 0 }));
  const byQueue = new Map(state.map((s) => [s.q, s]));
  const dataOp = p.kind === "forward" ? OP_DATA : OP_MSG;
  let received = 0;
  let sendReplies = 0;
  let sent = 0;
  return new Promise((resolve, reject) => {
    let finished = false;
    const finish = (e?: Error): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      p.sender.onFrame = () => {};
      p.recipient.onFrame = () => {};
      if (e) reject(e);
      else resolve({ completed: received });
    };
    const timer = setTimeout(() => finish(), Math.max(0, deadline - performance.now()));
    const sendNext = (s: (typeof state)[number]): void => {
      s.t0 = performance.now();
      p.sender.ws.send(withSeq(frame(p.kind === "forward" ? OP_DATA : OP_SEND, s.q), s.sent));
      s.sent++;
      sent++;
    };
    const maybeDone = (): void => {
      // Topology: every SEND's OK in as well, so the window holds all of the messages' work.
      if (received === total && (p.kind === "forward" || sendReplies === sent)) finish();
    };
    p.sender.onFrame = (f) => {
      const op = opOf(f);
      if (p.kind === "forward" ? op !== OP_ACKNOWLEDGE : op !== OP_OK) return finish(new Error(`${p.kind}: sender got op ${op}`));
      if (isTopology(p.kind)) {
        sendReplies++;
        maybeDone();
      }
    };
    p.recipient.onFrame = (f) => {
      const at = performance.now();
      const op = opOf(f);
      if (op === OP_OK && isTopology(p.kind)) return; // an ACK's reply with no message in it
      if (op !== dataOp) return finish(new Error(`${p.kind}: recipient got op ${op}`));
      const s = byQueue.get(queueOf(f));
      if (!s) return finish(new Error(`${p.kind}: a message for queue ${queueOf(f)}, not in this loop`));
      if (seqOf(f) !== s.received) return finish(new Error(`${p.kind}: queue ${s.q} message ${s.received} arrived out of order (got ${seqOf(f)})`));
      samples.push(at - s.t0);
      s.received++;
      received++;
      p.recipient.ws.send(frame(p.kind === "forward" ? OP_ACKNOWLEDGE : OP_ACK, s.q));
      if (s.sent < s.quota) sendNext(s);
      maybeDone();
    };
    for (const s of state) if (s.quota > 0) sendNext(s);
    if (total === 0) finish();
  });
}

/** Waits for stray frames to drain (acknowledgements of the last messages) before the next loop. */
export async function quiesce(p: BaselinePair, ms = 100): Promise<void> {
  p.sender.onFrame = () => {};
  p.recipient.onFrame = () => {};
  await sleep(ms);
}
