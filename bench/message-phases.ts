// The relay's message phases of the bench: a steady stream on one queue, a backlog drained after
// SUB, and the throughput runs with Q queues in flight. Each on connections of its own (a sender
// and a recipient), its queues created and warmed up before the measured window. The scenarios
// themselves are in messages.ts, the relay's counters in counters.ts.
import type { SMPClient } from "../src/client/client.js";
import { COUNTED_PHASE, measurePhase, type Ctx, type Phase } from "./measure.js";
import { fetchCounters, type Counters } from "./counters.js";
import {
  backlog,
  makeQueues,
  pairOf,
  steadyStream,
  throughput,
  warmQueue,
  warmUnsubscribedQueue,
  type Pair,
} from "./messages.js";
import type { Options } from "./run-options.js";
import { storageSize, type StorageSize } from "./storage.js";

export interface MsgPhase extends Phase {
  scenario: "steady" | "backlog" | "throughput";
  queues: number;
  /** Backlog: the counters after the SENDs, before SUB, and how many SENDs that was. */
  afterSends: Counters | null;
  sent: number;
  /** Backlog: the Queue objects' databases before the SENDs and right after them. */
  stored: { before: StorageSize; afterSends: StorageSize } | null;
}

/** Queue objects' databases only (the backlog's queue is the one that grows). */
const queueStorage = (ctx: Ctx): StorageSize => storageSize(ctx.persistTo, "QueueDO");

/** Messages per throughput run: --throughput, at least 10 per queue, and 3× at 1 queue (the ratios' level: steadier). */
export const levelTotal = (o: Options, queues: number): number => (queues === 1 ? 3 : 1) * Math.max(o.throughputTotal, 10 * queues);

/** Messages through each queue before the window: its object awake, its expiry alarm set. */
const QUEUE_WARMUP = 3;

export async function withPair<T>(ctx: Ctx, extra: number, f: (p: Pair, others: SMPClient[]) => Promise<T>): Promise<T> {
  const conns: SMPClient[] = [];
  try {
    for (let i = 0; i < 2 + extra; i++) conns.push(await ctx.open());
    const [sender, recipient, ...others] = conns as [SMPClient, SMPClient, ...SMPClient[]];
    const ss = ctx.socketOf.get(sender);
    const rs = ctx.socketOf.get(recipient);
    return await f(pairOf(sender, recipient, ss && rs ? { sender: ss, recipient: rs } : undefined), others);
  } finally {
    for (const c of conns) c.close();
  }
}

export async function steadyPhase(ctx: Ctx, n: number): Promise<MsgPhase> {
  return withPair(ctx, 0, async (p) => {
    const [q] = await makeQueues(p, 1, true);
    await warmQueue(p, q!, QUEUE_WARMUP, ctx.opts.msgBytes);
    const ph = await measurePhase(
      ctx,
      "messages: steady stream, 1 queue",
      n,
      "SEND → MSG",
      (deadline, samples, wire) => steadyStream(p, q!, n, ctx.opts.msgBytes, deadline, samples, wire),
      COUNTED_PHASE,
    );
    return { ...ph, scenario: "steady", queues: 1, afterSends: null, sent: ph.completed, stored: null };
  });
}

export async function backlogPhase(ctx: Ctx, k: number): Promise<MsgPhase> {
  return withPair(ctx, 1, async (p, [reader]) => {
    const [q] = await makeQueues(p, 1, false);
    await warmUnsubscribedQueue(p, reader!, q!, QUEUE_WARMUP, ctx.opts.msgBytes);
    // The bytes the queue's database grows by while the SENDs wait: read from its files, the
    // first reading before the window, the second in it, right after the counters (bench/storage.ts).
    const before = queueStorage(ctx);
    let afterSends: StorageSize | null = null;
    const ph = await measurePhase(
      ctx,
      `messages: backlog of ${k}, 1 queue`,
      k,
      "-",
      (deadline) =>
        backlog(p, q!, k, ctx.opts.msgBytes, deadline, async () => {
          const c = await fetchCounters(ctx.metricsUrl);
          afterSends = queueStorage(ctx);
          return c;
        }),
      COUNTED_PHASE,
    );
    const stored = afterSends ? { before, afterSends } : null;
    return { ...ph, scenario: "backlog", queues: 1, afterSends: ph.result.afterSends, sent: ph.result.sent, stored };
  });
}

export async function throughputPhase(ctx: Ctx, total: number, nq: number): Promise<MsgPhase> {
  return withPair(ctx, 0, async (p) => {
    const queues = await makeQueues(p, nq, true);
    for (let i = 0; i < QUEUE_WARMUP; i++) {
      const w = await throughput(p, queues, nq, ctx.opts.msgBytes, performance.now() + 30_000, []);
      if (w.completed < nq) throw new Error("warm-up of the throughput queues timed out");
    }
    const ph = await measurePhase(
      ctx,
      `messages: throughput, ${nq} queue${nq === 1 ? "" : "s"}`,
      total,
      "SEND → MSG",
      (deadline, samples, wire) => throughput(p, queues, total, ctx.opts.msgBytes, deadline, samples, wire),
      COUNTED_PHASE,
    );
    return { ...ph, scenario: "throughput", queues: nq, afterSends: null, sent: ph.completed, stored: null };
  });
}

export const isMsgPhase = (p: Phase): p is MsgPhase => "scenario" in p;
