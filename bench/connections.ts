// The relay's connection phases of the bench: handshakes, PINGs one at a time and packed in
// blocks, plain HTTP requests for reference, and the SUBs of a reconnect; and the relay they run
// on: its context (how to open a connection, where its counters are), the warm-up before the
// first phase and after a reload.
import { connect, type SMPClient } from "../src/client/client.js";
import { createQueue, subscribe, type RecipientQueue } from "../src/client/queues.js";
import type { WebSocketConstructor } from "../src/client/socket.js";
import { parseAddress } from "../src/protocol/address.js";
import type { RunningRelay } from "../test/helpers/relay.js";
import { COUNTED_PHASE, MAX_ATTEMPTS, measurePhase, SETTLE_MS, sleep, type Ctx, type Phase } from "./measure.js";
import { TimedWebSocket } from "./messages.js";
import { findRelayProcesses } from "./proc.js";
import { waitSettled } from "./reload.js";
import type { Options } from "./run-options.js";

/** The vars the bench runs the relay with (on top of wrangler.jsonc). */
export const BENCH_RELAY_VARS = { RELAY_DEBUG_METRICS: "true", NEW_QUEUES_PER_MINUTE: "100000", MAX_PENDING_BLOCKS: "1024", LIMIT_CONNECTIONS_PER_IP: "false" };

/** The relay's key hash, from its /health (each relay has its own storage, so its own identity). */
export async function relayKeyHash(r: RunningRelay): Promise<Uint8Array> {
  const health = (await (await fetch(`${r.httpUrl}/health`)).json()) as { address: string };
  return parseAddress(health.address).keyHash;
}

/** A connection as the bench's clients make them: on timed sockets, no keep-alive PINGs. */
export function openConnection(r: RunningRelay, keyHash: Uint8Array): Promise<SMPClient> {
  return connect(r.wsUrl, keyHash, { WebSocket: TimedWebSocket as unknown as WebSocketConstructor, pingInterval: 0 });
}

export async function relayContext(r: RunningRelay, o: Options): Promise<Ctx> {
  const keyHash = await relayKeyHash(r);
  const ctx: Ctx = {
    procs: findRelayProcesses(r),
    findProcs: () => findRelayProcesses(r),
    persistTo: r.persistTo,
    healthUrl: `${r.httpUrl}/health`,
    metricsUrl: `${r.httpUrl}/debug/metrics`,
    opts: o,
    socketOf: new WeakMap(),
    open: async () => {
      const c = await openConnection(r, keyHash);
      if (TimedWebSocket.last) ctx.socketOf.set(c, TimedWebSocket.last);
      return c;
    },
  };
  return ctx;
}

/** A connection on a warm relay: 20 handshakes, 200 PINGs, 5 batches and 50 requests first. */
export async function warmUp(ctx: Ctx): Promise<SMPClient> {
  process.stderr.write("warming up: 20 handshakes, 200 PINGs, 5 batches, 50 GET /health\n");
  const deadline = performance.now() + 60_000;
  for (let i = 0; i < 50 && performance.now() < deadline; i++) await (await fetch(ctx.healthUrl, { signal: AbortSignal.timeout(10_000) })).arrayBuffer();
  for (let i = 0; i < 20 && performance.now() < deadline; i++) (await ctx.open()).close();
  const c = await ctx.open();
  try {
    for (let i = 0; i < 200 && performance.now() < deadline; i++) await c.ping();
    for (let i = 0; i < 5 && performance.now() < deadline; i++) await Promise.all(Array.from({ length: ctx.opts.batchSize }, () => c.ping()));
  } catch (e) {
    c.close();
    throw e;
  }
  await sleep(1000);
  return c;
}

/** After a reload: wait for the new workerd, find it, warm it up (another reload may interrupt). */
export async function recover(ctx: Ctx, r: RunningRelay): Promise<SMPClient> {
  for (let attempt = 1; ; attempt++) {
    await waitSettled(r, "/health");
    ctx.procs = findRelayProcesses(r);
    try {
      return await warmUp(ctx);
    } catch (e) {
      if (attempt >= MAX_ATTEMPTS) throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The phases

/** N connections opened (handshake done) and closed, one after another; the relay's counters around them. */
export async function handshakes(ctx: Ctx, _conn: SMPClient, n: number): Promise<Phase> {
  return measurePhase(
    ctx,
    "handshake (connect + close)",
    n,
    "connect()",
    async (deadline, samples) => {
      let i = 0;
      for (; i < n && performance.now() < deadline; i++) {
        const t = performance.now();
        const c = await ctx.open();
        samples.push(performance.now() - t);
        c.close();
      }
      return { completed: i };
    },
    // Read outside the CPU window (measurePhase), so they do not change the CPU figures.
    { counted: true },
  );
}

export async function sequentialPings(ctx: Ctx, c: SMPClient, m: number): Promise<Phase> {
  return measurePhase(ctx, "PING, sequential", m, "round trip", async (deadline, samples) => {
    let i = 0;
    for (; i < m && performance.now() < deadline; i++) {
      const t = performance.now();
      await c.ping();
      samples.push(performance.now() - t);
    }
    return { completed: i };
  });
}

export async function batchedPings(ctx: Ctx, c: SMPClient, total: number, batch: number): Promise<Phase> {
  return measurePhase(ctx, `PING, ${batch} per block`, total, `block of ${batch}`, async (deadline, samples) => {
    let done = 0;
    let unpacked = 0;
    while (done < total && performance.now() < deadline) {
      const k = Math.min(batch, total - done);
      const sent = c.stats.blocksSent;
      const t = performance.now();
      await Promise.all(Array.from({ length: k }, () => c.ping()));
      samples.push(performance.now() - t);
      if (c.stats.blocksSent - sent !== 1) unpacked++;
      done += k;
    }
    return { completed: done, note: unpacked > 0 ? `${unpacked} batches did not go out as one block` : undefined };
  });
}

/** For reference: what a plain HTTP request costs the same processes. */
export const HTTP_REQUESTS = 500;

export async function httpRequests(ctx: Ctx, n: number): Promise<Phase> {
  return measurePhase(ctx, "GET /health (reference)", n, "request", async (deadline, samples) => {
    let i = 0;
    for (; i < n && performance.now() < deadline; i++) {
      const t = performance.now();
      const res = await fetch(ctx.healthUrl, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`GET /health: HTTP ${res.status}`);
      samples.push(performance.now() - t);
    }
    return { completed: i };
  });
}

/** The reconnect phase: its queues, for the report to tell it from the connection phases. */
export interface ResubPhase extends Phase {
  resubQueues: number;
}

export const isResubPhase = (p: Phase): p is ResubPhase => "resubQueues" in p;

/**
 * What a reconnect costs per queue (counters, no timing): connection 1 creates N queues,
 * subscribed, and closes; connection 2 SUBs all N again, together, as a reconnecting client
 * does. The window holds the SUBs and, within its settle, the END each queue pushes to the old
 * connection's Session object.
 */
export async function resubPhase(ctx: Ctx, n: number): Promise<ResubPhase> {
  const queues: RecipientQueue[] = [];
  const first = await ctx.open();
  try {
    while (queues.length < n) queues.push(...(await Promise.all(Array.from({ length: Math.min(20, n - queues.length) }, () => createQueue(first, { subscribe: true })))));
  } finally {
    first.close();
  }
  // The old Session handles the close before the window opens.
  await sleep(SETTLE_MS);
  const second = await ctx.open();
  try {
    const ph = await measurePhase(
      ctx,
      `reconnect: SUB ${n} queues again`,
      n,
      "-",
      async () => {
        await Promise.all(queues.map((q) => subscribe(second, q)));
        return { completed: n };
      },
      COUNTED_PHASE,
    );
    return { ...ph, resubQueues: n };
  } finally {
    second.close();
  }
}
