// `npm run load`: N connections, Q queues, M messages per queue against a relay (a local one it
// starts, or any with --url), ACK-driven per queue, with a progress line every second; reports
// sent, delivered, lost, duplicated (by msgId and by content), out of order and SEND → MSG
// latency percentiles, and exits non-zero on any loss or any duplicate that is not a legitimate
// redelivery. See bench/load-run.ts for how the load is made and checked. `--burst N` is one
// sender connection issuing N SENDs at once (bench/load-burst.ts).
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fmt } from "./format.js";
import { BURST_MSG_BYTES, BURST_QUEUES_PER_RECIPIENT, burstLoad } from "./load-burst.js";
import { formatSummary, LoadError, runLoad, type LoadOptions, type LoadResult, type Progress } from "./load-run.js";
import { cliOptions, intOption, UsageError } from "./options.js";

const HELP = `usage: npm run load -- [options]

  --connections N   connections, half recipients and half senders (default 100)
  --queues Q        queues, spread over the recipients (default 1000)
  --messages M      messages per queue (default 10)
  --burst N         instead of --queues and --messages: one sender connection issues N SENDs
                    at once, one to each of N queues (bodies of ${BURST_MSG_BYTES} bytes unless --msg-bytes)
                    made by N / ${BURST_QUEUES_PER_RECIPIENT} recipient connections (or --connections minus the
                    sender); any connection that drops fails the run
  --url URL         ws:// or wss:// URL of a running relay (default: start a local one on 127.0.0.1)
  --address ADDR    its smp://keyHash@host address (default: read from /health next to --url)
  --password P      the relay's queue-creation password, if it has one
  --timeout S       time limit of the whole run in seconds (default 600)
  --msg-bytes B     SEND body size, 32..16048 (default 100)
  --window W        commands in flight per connection at most, in this load generator (default
                    32; with --burst, N)
  --blocks B        blocks in flight per connection at most, the client library's own window
                    (maxBlocksInFlight, default 8): commands past it wait in the client. Keep it
                    well below the relay's MAX_PENDING_BLOCKS (64), which --window may exceed
  --json FILE       also write the figures as JSON
  --help

Each recipient connection creates and subscribes to its share of the queues, so Q / (N / 2)
(with --burst, N / recipients) must stay within the relay's per-connection limits:
NEW_QUEUES_PER_MINUTE (60) and MAX_SUBSCRIPTIONS (5000). Exit status: 0 when every message
sent was delivered once and in order, 1 otherwise, 2 for bad options or a run that could not
start.`;


interface Cli extends LoadOptions {
  json: string | null;
}

function parseOptions(argv: string[]): Cli | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: "string" },
      queues: { type: "string" },
      messages: { type: "string" },
      url: { type: "string" },
      address: { type: "string" },
      password: { type: "string" },
      timeout: { type: "string" },
      "msg-bytes": { type: "string" },
      window: { type: "string" },
      blocks: { type: "string" },
      burst: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = intOption;
  if (values.address !== undefined && values.url === undefined) throw new UsageError("--address needs --url");
  const common = {
    ...(values.url !== undefined ? { url: values.url } : {}),
    ...(values.address !== undefined ? { address: values.address } : {}),
    ...(values.password !== undefined ? { password: values.password } : {}),
    timeoutMs: int("timeout", values.timeout, 600, 1, 7 * 24 * 3600) * 1000,
    blocksInFlight: int("blocks", values.blocks, 8, 1, 1024),
  };
  const json = values.json ?? null;
  if (values.burst !== undefined) {
    if (values.queues !== undefined || values.messages !== undefined) throw new UsageError("--burst N sends one message to each of N queues: leave out --queues and --messages");
    const n = int("burst", values.burst, 0, 1, 100_000);
    const connections = values.connections === undefined ? undefined : int("connections", values.connections, 0, 2, 10_000) - 1;
    const burst = burstLoad(n, {
      ...common,
      msgBytes: int("msg-bytes", values["msg-bytes"], BURST_MSG_BYTES, 32, 16048),
      window: int("window", values.window, n, 1, 100_000),
    }, connections);
    return { ...burst, json };
  }
  return {
    ...common,
    connections: int("connections", values.connections, 100, 2, 10_000),
    queues: int("queues", values.queues, 1000, 1, 1_000_000),
    messages: int("messages", values.messages, 10, 1, 1_000_000),
    msgBytes: int("msg-bytes", values["msg-bytes"], 100, 32, 16048),
    window: int("window", values.window, 32, 1, 100_000),
    json,
  };
}

const n = (x: number): string => String(x).padStart(6);

function progressLine(p: Progress): string {
  const t = `[${(p.elapsedMs / 1000).toFixed(1).padStart(6)} s]`;
  const re = p.reconnects > 0 ? `  reconnects ${p.reconnects}` : "";
  return `${t} sent ${n(p.sent)}  delivered ${n(p.delivered)}  in flight ${n(p.inFlight)}  ${fmt(p.rate, 0).padStart(6)} msg/s${re}`;
}

async function main(): Promise<number> {
  const opts = cliOptions(process.argv.slice(2), HELP, parseOptions);
  if (typeof opts === "number") return opts;
  // A local relay talks to 127.0.0.1 only (no Request.cf download).
  if (opts.url === undefined) process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  let result: LoadResult;
  try {
    result = await runLoad({
      ...opts,
      onStage: (t) => console.log(t),
      onProgress: (p) => console.log(progressLine(p)),
    });
  } catch (e) {
    console.error(e instanceof LoadError ? `load: ${e.message}` : e);
    return 2;
  }
  console.log(formatSummary(result));
  if (opts.json) {
    const { check: _check, ...figures } = result;
    writeFileSync(opts.json, JSON.stringify({ ...figures, problems: result.check.problems }, null, 2) + "\n");
    console.log(`figures written to ${opts.json}`);
  }
  return result.ok ? 0 : 1;
}

process.exitCode = await main();
// wrangler dev is stopped by then; nothing else should keep the process alive.
setTimeout(() => process.exit(), 1000).unref();
