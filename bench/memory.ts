// Memory of idle connections: the resident set (VmRSS, /proc/PID/status) of the workerd that
// runs the Worker, and of wrangler's proxy workerd in front of it, before N connections open,
// right after, and once their objects have been idle long enough for workerd to evict them
// (the WebSockets stay open, hibernated).
import { readFileSync } from "node:fs";
import { cpuOf, type RelayProcesses } from "./proc.js";

export function rssBytes(pid: number | null): number {
  if (pid === null) return NaN;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface RssPoint {
  relay: number;
  proxy: number;
}

export interface IdleMemory {
  connections: number;
  /** Before opening them; right after; after `idleMs` with no traffic (objects evicted). */
  before: RssPoint;
  connected: RssPoint;
  idle: RssPoint;
  idleMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rss = (p: RelayProcesses): RssPoint => ({ relay: rssBytes(p.relay), proxy: rssBytes(p.proxy) });

/**
 * Opens `n` connections one after another, then leaves them idle for `idleMs` (workerd evicts a
 * Durable Object about 10 s after its last event; its hibernated WebSockets stay open), reading
 * the RSS before, after opening and after the idle wait. Closes them all at the end.
 */
export async function idleMemory(procs: RelayProcesses, n: number, idleMs: number, open: (i: number) => Promise<{ close(): void }>): Promise<IdleMemory> {
  await sleep(500);
  const before = rss(procs);
  const conns: { close(): void }[] = [];
  try {
    for (let i = 0; i < n; i++) conns.push(await open(i));
    await sleep(500);
    const connected = rss(procs);
    await sleep(idleMs);
    const idle = rss(procs);
    return { connections: n, before, connected, idle, idleMs };
  } finally {
    for (const c of conns) c.close();
  }
}

/** Per connection, bytes: live (objects in memory), idle (evicted, sockets hibernated), freed by eviction. */
export function perConnection(m: IdleMemory, which: keyof RssPoint): { live: number; idle: number; freedByEviction: number } {
  const n = Math.max(1, m.connections);
  return {
    live: (m.connected[which] - m.before[which]) / n,
    idle: (m.idle[which] - m.before[which]) / n,
    freedByEviction: (m.connected[which] - m.idle[which]) / n,
  };
}

/**
 * Waits until a process has been idle (at most one 10 ms CPU tick) for a second, or `maxMs`
 * passed: closing hundreds of hibernated connections wakes each object for its webSocketClose,
 * which must not run into the next measurement.
 */
export async function waitIdle(pid: number, maxMs = 15_000): Promise<boolean> {
  const deadline = performance.now() + maxMs;
  const cpu = (): number => {
    const c = cpuOf(pid);
    return c.user + c.sys;
  };
  let last = cpu();
  while (performance.now() < deadline) {
    await sleep(1000);
    const now = cpu();
    if (now - last <= 10) return true;
    last = now;
  }
  return false;
}
