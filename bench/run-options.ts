// The bench's command line (`npm run bench -- --help`): the options of bench/run.ts.
import { parseArgs } from "node:util";
import { MIN_BODY } from "./messages.js";
import { intOption } from "./options.js";

export const HELP = `usage: npm run bench -- [options]

  --handshakes N     sequential connect()+close() to measure (default 200)
  --pings M          sequential PINGs on one connection (default 2000)
  --batch-size B     PINGs sent together, packed in one block (default 100)
  --batch-rounds R   the batched run sends M PINGs R times (default 10)
  --messages N       steady stream: messages SENT and ACKed one at a time on one queue (default 300; 0 skips)
  --backlog K        backlog: messages SENT before SUB, then drained (default 100, at most 128, the queue quota; 0 skips)
  --throughput T     throughput / load: T messages (at least 10 per queue; 3 T at 1 queue, where the ratios
                     are taken) at each queue count (default 400; 0 skips)
  --queues LIST      queues in flight for the throughput runs, relay and baselines (default 1,2,5,10,25,50,100)
  --resub Q          reconnect: Q queues subscribed on one connection, SUBscribed again on the next after it
                     closed; the relay's counters per queue (default 20; 0 skips)
  --stats-conns N    cost of statistics: N connections (each a queue and M messages to itself, then 2M), on a relay
                     with STATS=off and one with STATS=public (default 20; 0 skips)
  --stats-msgs M     messages per connection in that run's first round (default 10)
  --msg-bytes S      SEND body size, 16..16048 (default 16048: one message per 16 KB block; the relay pads every
                     stored message to 16106 bytes anyway)
  --skip-baselines   do not run the baselines (bench/baselines/): no ratios, no chart
  --skip-floors      run baselines A and B only, not the floors S and F (B plus durable messages, plus crypto)
  --idle-conns N     idle connections for the memory figure, relay and baseline A (default 200; 0 skips)
  --idle-wait S      how long they stay idle before the second reading, seconds (default 12: workerd evicts
                     an object about 10 s after its last event)
  --chart FILE       the SVG chart (default bench-output/bench-latency.svg; with --json, one more next to it)
  --micro-ms MS      time budget per microbenchmark figure (default 1500; 0 skips them)
  --phase-timeout S  time limit of each measured loop, seconds (default 60)
  --timeout S        time limit of the whole run, seconds (default 480)
  --json FILE        also write the figures as JSON
  --help`;

export interface Options {
  handshakes: number;
  pings: number;
  batchSize: number;
  batchRounds: number;
  messages: number;
  backlog: number;
  throughputTotal: number;
  throughputQueues: number[];
  resubQueues: number;
  statsConns: number;
  statsMsgs: number;
  msgBytes: number;
  skipBaselines: boolean;
  skipFloors: boolean;
  idleConns: number;
  idleWaitMs: number;
  chart: string;
  microMs: number;
  phaseTimeoutMs: number;
  timeoutMs: number;
  json: string | null;
}

export function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      handshakes: { type: "string" },
      pings: { type: "string" },
      "batch-size": { type: "string" },
      "batch-rounds": { type: "string" },
      messages: { type: "string" },
      backlog: { type: "string" },
      throughput: { type: "string" },
      queues: { type: "string" },
      resub: { type: "string" },
      "stats-conns": { type: "string" },
      "stats-msgs": { type: "string" },
      "msg-bytes": { type: "string" },
      "skip-baselines": { type: "boolean" },
      "skip-floors": { type: "boolean" },
      "idle-conns": { type: "string" },
      "idle-wait": { type: "string" },
      chart: { type: "string" },
      "micro-ms": { type: "string" },
      "phase-timeout": { type: "string" },
      timeout: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = intOption;
  const batchSize = int("batch-size", values["batch-size"], 100, 1, 200);
  const queues = (values.queues ?? "1,2,5,10,25,50,100").split(",").map((v) => int("queues", v.trim(), 0, 1, 1000));
  const throughputTotal = int("throughput", values.throughput, 400, 0, 1_000_000);
  return {
    handshakes: int("handshakes", values.handshakes, 200, 1, 100_000),
    pings: int("pings", values.pings, 2000, 1, 10_000_000),
    batchSize,
    batchRounds: int("batch-rounds", values["batch-rounds"], 10, 1, 10_000),
    messages: int("messages", values.messages, 300, 0, 1_000_000),
    // The relay's queue quota is 128 (wrangler.jsonc): one more SEND would be ERR QUOTA.
    backlog: int("backlog", values.backlog, 100, 0, 128),
    throughputTotal,
    throughputQueues: [...new Set(queues)].sort((a, b) => a - b),
    resubQueues: int("resub", values.resub, 20, 0, 1000),
    statsConns: int("stats-conns", values["stats-conns"], 20, 0, 1000),
    statsMsgs: int("stats-msgs", values["stats-msgs"], 10, 1, 1000),
    msgBytes: int("msg-bytes", values["msg-bytes"], 16048, MIN_BODY, 16048),
    skipBaselines: values["skip-baselines"] ?? false,
    skipFloors: values["skip-floors"] ?? false,
    idleConns: int("idle-conns", values["idle-conns"], 200, 0, 5000),
    idleWaitMs: int("idle-wait", values["idle-wait"], 12, 0, 600) * 1000,
    chart: values.chart ?? "bench-output/bench-latency.svg",
    microMs: int("micro-ms", values["micro-ms"], 1500, 0, 60_000),
    phaseTimeoutMs: int("phase-timeout", values["phase-timeout"], 60, 1, 3600) * 1000,
    timeoutMs: int("timeout", values.timeout, 480, 10, 24 * 3600) * 1000,
    json: values.json ?? null,
  };
}
