// The processes behind a `wrangler dev` relay and their CPU time, from /proc (Linux only).
//
// wrangler dev runs two workerd processes: one for wrangler's ProxyWorker, which listens on the
// public port (`--socket-addr=entry=127.0.0.1:PORT`) and forwards every request and WebSocket
// frame, and one for our Worker (entry on an ephemeral port). workerdPid() returns the first one
// it finds breadth-first, which is the proxy; the bench tells them apart by the entry address.
import { readdirSync, readFileSync } from "node:fs";
import { cpuTimeMs, workerdPid, type RunningRelay } from "../test/helpers/relay.js";

export interface RelayProcesses {
  /** The workerd running src/server/worker.ts (SessionDO, IdentityDO). */
  relay: number;
  /** wrangler's ProxyWorker workerd in front of it, if there is one. */
  proxy: number | null;
  /** What workerdPid() returned, for the report. */
  workerdPid: number;
  /** Everything else under the wrangler process (the wrangler node processes, esbuild). */
  others: number[];
}

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return null;
  }
}

function childrenMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const stat = readProc(Number(d), "stat");
    if (stat === null) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(d));
    children.set(ppid, list);
  }
  return children;
}

/** Direct children of a process. */
export function childPids(pid: number): number[] {
  return childrenMap().get(pid) ?? [];
}

/** All descendants of `root`, root included. */
export function processTree(root: number): number[] {
  const children = childrenMap();
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export function findRelayProcesses(relay: RunningRelay): RelayProcesses {
  const first = workerdPid(relay);
  const root = relay.process.pid;
  if (first === null || root === undefined) throw new Error("no workerd process under wrangler dev");
  const port = new URL(relay.httpUrl).port;
  const tree = processTree(root);
  const workerds = tree.filter((p) => readProc(p, "comm")?.trim() === "workerd");
  const isProxy = (p: number): boolean => (readProc(p, "cmdline") ?? "").split("\0").includes(`--socket-addr=entry=127.0.0.1:${port}`);
  const proxies = workerds.filter(isProxy);
  const workers = workerds.filter((p) => !isProxy(p));
  if (workers.length > 1) throw new Error(`several Worker workerd processes: ${workers.join(", ")}`);
  // One workerd only: it is the Worker itself (no proxy in front).
  const relayPid = workers[0] ?? first;
  const proxy = workers.length === 0 ? null : (proxies[0] ?? null);
  return { relay: relayPid, proxy, workerdPid: first, others: tree.filter((p) => p !== relayPid && p !== proxy) };
}

export interface Cpu {
  user: number;
  sys: number;
}

/** User and system CPU of a process so far, in ms (10 ms resolution: USER_HZ is 100). */
export function cpuOf(pid: number): Cpu {
  const stat = readProc(pid, "stat");
  if (stat === null) return { user: 0, sys: 0 };
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const user = (Number(f[11]) * 1000) / 100;
  const total = cpuTimeMs(pid);
  return { user, sys: total - user };
}

export interface Snapshot {
  at: number;
  relay: Cpu;
  proxy: Cpu;
  others: number;
  /** This (client) process, user + system, ms. */
  client: number;
}

const ZERO: Cpu = { user: 0, sys: 0 };

export function snapshot(p: RelayProcesses): Snapshot {
  const c = process.cpuUsage();
  return {
    at: performance.now(),
    relay: cpuOf(p.relay),
    proxy: p.proxy === null ? ZERO : cpuOf(p.proxy),
    others: p.others.reduce((s, pid) => s + (readProc(pid, "stat") === null ? 0 : cpuTimeMs(pid)), 0),
    client: (c.user + c.system) / 1000,
  };
}

export interface Delta {
  wallMs: number;
  relayMs: number;
  relayUserMs: number;
  relaySysMs: number;
  proxyMs: number;
  othersMs: number;
  clientMs: number;
}

export function delta(a: Snapshot, b: Snapshot): Delta {
  return {
    wallMs: b.at - a.at,
    relayMs: b.relay.user + b.relay.sys - (a.relay.user + a.relay.sys),
    relayUserMs: b.relay.user - a.relay.user,
    relaySysMs: b.relay.sys - a.relay.sys,
    proxyMs: b.proxy.user + b.proxy.sys - (a.proxy.user + a.proxy.sys),
    othersMs: b.others - a.others,
    clientMs: b.client - a.client,
  };
}
