// The relay's counters (src/server/metrics.ts), as the bench reads them from GET /debug/metrics
// (the relay runs with RELAY_DEBUG_METRICS=true): deltas over a window, and what they are billed
// as (Durable Object requests, rows read and written). Every phase of the bench counts through
// billed(), so an RPC added here is in every DO request figure.

/** GET /debug/metrics (the relay's `metrics` object; the bench only reads it). */
export interface Counters {
  rpc: {
    queueCall: number;
    queueCreate: number;
    sessionPush: number;
    identity: number;
    indexLookup: number;
    indexClaim: number;
    indexRelease: number;
    /** A statistics flush into the Stats object (a connection's end, expired messages; issue 14). */
    statsAdd: number;
    statsRead: number;
  };
  wsMessagesIn: number;
  alarms: number;
  rowsRead: number;
  rowsWritten: number;
  alarmWrites: number;
}

/** Every RPC the relay counts; billed() sums them all, so the statistics flushes (statsAdd) are in every DO request figure. */
const RPC_METHODS = ["queueCall", "queueCreate", "sessionPush", "identity", "indexLookup", "indexClaim", "indexRelease", "statsAdd", "statsRead"] as const;
const FLAT = ["wsMessagesIn", "alarms", "rowsRead", "rowsWritten", "alarmWrites"] as const;

export class MetricsUnavailableError extends Error {}

/** Reads the counters; throws if the relay does not expose them (RELAY_DEBUG_METRICS unset). */
export async function fetchCounters(url: string): Promise<Counters> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (res.status === 404) {
    await res.arrayBuffer();
    throw new MetricsUnavailableError(`${url}: 404 (the relay must run with RELAY_DEBUG_METRICS=true)`);
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const v = (await res.json()) as Record<string, unknown>;
  const num = (x: unknown, what: string): number => {
    if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`${url}: ${what} is not a number: ${JSON.stringify(x)}`);
    return x;
  };
  const rpc = (v.rpc ?? {}) as Record<string, unknown>;
  return {
    rpc: Object.fromEntries(RPC_METHODS.map((m) => [m, num(rpc[m], `rpc.${m}`)])) as Counters["rpc"],
    wsMessagesIn: num(v.wsMessagesIn, "wsMessagesIn"),
    alarms: num(v.alarms, "alarms"),
    rowsRead: num(v.rowsRead, "rowsRead"),
    rowsWritten: num(v.rowsWritten, "rowsWritten"),
    alarmWrites: num(v.alarmWrites, "alarmWrites"),
  };
}

export function counterDelta(before: Counters, after: Counters): Counters {
  const d = { rpc: { ...after.rpc }, wsMessagesIn: 0, alarms: 0, rowsRead: 0, rowsWritten: 0, alarmWrites: 0 };
  for (const m of RPC_METHODS) d.rpc[m] = after.rpc[m] - before.rpc[m];
  for (const k of FLAT) d[k] = after[k] - before[k];
  return d;
}

/**
 * The counters once they have stopped changing: read every `intervalMs` until two readings in a
 * row agree, or `timeoutMs` has passed (then the last reading). Work that finishes after the
 * client's last reply (a closed connection's statistics flush) is in it.
 */
export async function settledCounters(url: string, intervalMs = 200, timeoutMs = 5000): Promise<Counters> {
  const deadline = performance.now() + timeoutMs;
  let last = await fetchCounters(url);
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const next = await fetchCounters(url);
    if (JSON.stringify(next) === JSON.stringify(last) || performance.now() > deadline) return next;
    last = next;
  }
}

/** A counter went backwards: the isolate was replaced (reload, crash) and the figures are void. */
export function countersReset(d: Counters): boolean {
  return RPC_METHODS.some((m) => d.rpc[m] < 0) || FLAT.some((k) => d[k] < 0);
}

/** Durable Object requests as Cloudflare bills them: RPC calls, alarm invocations, incoming WebSocket messages at 1/20. */
export const WS_MESSAGES_PER_REQUEST = 20;

export interface Costs {
  rpcCalls: number;
  doRequests: number;
  rowsRead: number;
  /** Rows written as billed: SQLite rows written plus setAlarm calls. */
  rowsWritten: number;
}

export function billed(d: Counters): Costs {
  const rpcCalls = RPC_METHODS.reduce((s, m) => s + d.rpc[m], 0);
  return {
    rpcCalls,
    doRequests: rpcCalls + d.alarms + d.wsMessagesIn / WS_MESSAGES_PER_REQUEST,
    rowsRead: d.rowsRead,
    rowsWritten: d.rowsWritten + d.alarmWrites,
  };
}

export function perMessage(c: Costs, delivered: number): Costs {
  const n = Math.max(1, delivered);
  return { rpcCalls: c.rpcCalls / n, doRequests: c.doRequests / n, rowsRead: c.rowsRead / n, rowsWritten: c.rowsWritten / n };
}
