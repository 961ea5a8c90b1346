// `npm run profile [-- QUEUES [MESSAGES [FILE]]]`: a CPU profile of the relay's isolate while the
// bench's closed loop (bench/messages.ts throughput) runs, through workerd's DevTools inspector.
// Prints the functions with the most self time per delivered message and writes the whole
// profile (FILE, default bench-output/relay.cpuprofile) for Chrome DevTools' Performance panel.
//
// The sampler adds its own overhead and samples wall time: read the shares, not the absolute
// figures (those are the bench's, from /proc). See docs/PERFORMANCE.md, "Where the time goes".
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { connect } from "../src/client/client.js";
import { useNodeCrypto } from "../src/client/nodeCrypto.js";
import type { WebSocketConstructor } from "../src/client/socket.js";
import { parseAddress } from "../src/protocol/address.js";
import { freePort, startRelay } from "../test/helpers/relay.js";
import { makeQueues, pairOf, throughput, warmQueue, TimedWebSocket } from "./messages.js";
import { cliOptions, UsageError } from "./options.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Profile {
  nodes: { id: number; callFrame: CallFrame }[];
  samples: number[];
  timeDeltas: number[];
}

const HELP = `usage: npm run profile -- [QUEUES [MESSAGES [FILE]]]

  QUEUES     queues in flight during the profiled loop, 1..1000 (default 1)
  MESSAGES   messages delivered while the profiler runs, QUEUES..1000000 (default 1500)
  FILE       where the whole profile goes, for Chrome DevTools (default bench-output/relay.cpuprofile)
  --help`;

interface Options {
  queues: number;
  messages: number;
  file: string;
}

function parseOptions(argv: string[]): Options | null {
  const { values, positionals } = parseArgs({ args: argv, options: { help: { type: "boolean" } }, allowPositionals: true, strict: true });
  if (values.help) return null;
  if (positionals.length > 3) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[3])}`);
  const [q, m, f] = positionals;
  const int = (name: string, v: string | undefined, def: number, min: number, max: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in ${min}..${max}, not ${JSON.stringify(v)}`);
    return n;
  };
  const queues = int("QUEUES", q, 1, 1, 1000);
  return { queues, messages: int("MESSAGES", m, 1500, queues, 1_000_000), file: resolve(f ?? "bench-output/relay.cpuprofile") };
}

const opts = cliOptions(process.argv.slice(2), HELP, parseOptions);
if (typeof opts === "number") process.exit(opts);
const { queues, messages, file } = opts;
const BODY = 16048;

/** A minimal DevTools protocol client: one call at a time is all this needs. */
async function devtools(url: string): Promise<{ call: (method: string, params?: object) => Promise<Record<string, unknown>>; close: () => void }> {
  const ws = new WebSocket(url);
  await new Promise((res, rej) => ws.once("open", res).once("error", rej));
  let id = 0;
  const waiting = new Map<number, (r: Record<string, unknown>) => void>();
  ws.on("message", (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { id?: number; result?: Record<string, unknown> };
    if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? {});
  });
  return {
    call: (method, params = {}) =>
      new Promise((res) => {
        waiting.set(++id, res);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

useNodeCrypto();
const inspectorPort = await freePort();
const relay = await startRelay({ inspectorPort, vars: { NEW_QUEUES_PER_MINUTE: "100000", MAX_PENDING_BLOCKS: "1024", LIMIT_CONNECTIONS_PER_IP: "false" } });
try {
  const { address } = (await (await fetch(`${relay.httpUrl}/health`)).json()) as { address: string };
  const keyHash = parseAddress(address).keyHash;
  const open = async (): Promise<[Awaited<ReturnType<typeof connect>>, TimedWebSocket]> => {
    const c = await connect(relay.wsUrl, keyHash, { WebSocket: TimedWebSocket as unknown as WebSocketConstructor, pingInterval: 0 });
    return [c, TimedWebSocket.last!];
  };
  const [sender, ss] = await open();
  const [recipient, rs] = await open();
  const p = pairOf(sender, recipient, { sender: ss, recipient: rs });
  const qs = await makeQueues(p, queues, true);
  for (const bq of qs) await warmQueue(p, bq, 3, BODY);
  await throughput(p, qs, 500, BODY, performance.now() + 60_000, []); // warm-up

  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  if (targets.length !== 1) throw new Error(`expected the relay's one inspector target, got ${targets.length}`);
  const dt = await devtools(targets[0]!.webSocketDebuggerUrl);
  await dt.call("Profiler.enable");
  await dt.call("Profiler.setSamplingInterval", { interval: 100 });
  await dt.call("Profiler.start");
  const r = await throughput(p, qs, messages, BODY, performance.now() + 120_000, []);
  const { profile } = (await dt.call("Profiler.stop")) as unknown as { profile: Profile };
  dt.close();
  sender.close();
  recipient.close();

  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((node, i) => {
    const f = frames.get(node);
    const us = profile.timeDeltas[i] ?? 0;
    const key = f ? `${f.functionName || "(anonymous)"}${f.url ? ` ${f.url.split("/").pop()}:${f.lineNumber + 1}` : ""}` : "?";
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  });
  console.log(`${r.completed} messages, ${queues} queue(s) in flight; ${(total / 1000).toFixed(0)} ms sampled; self time:\n`);
  console.log("share  µs/msg  function");
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}  ${(us / Math.max(1, r.completed)).toFixed(0).padStart(6)}  ${k}`);
  }
  console.log(`\nwrote ${file}`);
} finally {
  await relay.stop();
}
