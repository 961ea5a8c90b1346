// `npm run bench`: the relay's CPU time per handshake and per PING round trip, measured on a
// `wrangler dev` relay (workerd process CPU from /proc); what a delivered message costs in
// Durable Object requests and SQLite rows (the relay's debug counters), the bytes it stores and
// its SEND → MSG latency and throughput under load; the memory of idle connections; the same
// load on two baselines in the same run (bench/baselines/: the simplest forwarding relay, and
// our topology without crypto or storage), as ratios against targets and an SVG chart; plus
// in-process microbenchmarks of the server-side crypto. See bench/README.md for what each
// figure means, docs/PERFORMANCE.md for the latest figures.
//
// This file runs the phases in order; each has a file of its own:
//   run-options.ts     the command line
//   lifecycle.ts       the wrangler dev instances, stopped on every way out
//   measure.ts         the measurement loop (CPU, counters, idle window, reloads)
//   connections.ts     the relay's context and warm-up; handshakes, PINGs, HTTP
//   message-phases.ts  steady stream, backlog, throughput (scenarios in messages.ts)
//   links.ts           short-link costs (counters only)
//   side-runs.ts       a second relay for idle memory, two for the cost of statistics (stats-cost.ts),
//                      the baselines, the microbenchmarks
//   report.ts          the printed report and the JSON (report-connections.ts, report-messages.ts,
//                      compare.ts against the baselines, targets.ts)
import { useNodeCrypto } from "../src/client/nodeCrypto.js";
import { startRelay } from "../test/helpers/relay.js";
import { reportComparison } from "./compare.js";
import {
  batchedPings,
  BENCH_RELAY_VARS,
  handshakes,
  HTTP_REQUESTS,
  httpRequests,
  isResubPhase,
  recover,
  relayContext,
  resubPhase,
  sequentialPings,
  warmUp,
} from "./connections.js";
import { bail, isBailing, lastStartedInstance, start, stop, stopAll, stopOnExit } from "./lifecycle.js";
import { measureLinkCosts, reportLinkCosts } from "./links.js";
import { reportBundleSize, workerBundleSize } from "./bundle-size.js";
import { runPlan, type PhaseRun } from "./measure.js";
import { backlogPhase, isMsgPhase, levelTotal, steadyPhase, throughputPhase, withPair } from "./message-phases.js";
import { comparisonInput, relayLoadPoints, report, writeOutputs } from "./report.js";
import { HELP, parseOptions } from "./run-options.js";
import { reportTargets } from "./targets.js";
import { cliOptions } from "./options.js";
import { relayIdleMemory, relayStatsCost, runBaselines, runMicrobenchmarks } from "./side-runs.js";
import { reportStatsCost } from "./stats-cost.js";

stopOnExit();

/** Short-link costs: operations of each kind, and messages through a client-chosen sender id. */
const LINK_OPS = 20;
const LINK_MESSAGES = 50;

async function main(): Promise<number> {
  const opts = cliOptions(process.argv.slice(2), HELP, parseOptions);
  if (typeof opts === "number") return opts;
  // The bench's clients are our client library in Node, set up as a Node user would set it up.
  if (!useNodeCrypto()) throw new Error("node:crypto's HKDF was refused (it disagrees with @noble/hashes)");
  const o = opts;
  const watchdog = setTimeout(() => void bail(1, `the run took longer than ${o.timeoutMs / 1000} s`), o.timeoutMs);
  watchdog.unref();
  const date = new Date();

  // Keep wrangler from fetching the Request.cf object from workers.cloudflare.com: the bench talks
  // to 127.0.0.1 only (startRelay passes our environment on).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.stderr.write("starting the relay (wrangler dev)...\n");
  // The relay's counters (DO requests, SQLite rows) at GET /debug/metrics, for the messages phase;
  // NEW's per-connection rate limit (60 a minute by default) raised: one recipient connection
  // creates the 100 queues of the throughput phase, and more for the load sweep; and the bound on
  // a connection's pending blocks (64) raised: with 100 queues in flight the sender has up to 100
  // SEND blocks waiting in its Session object, which the relay would otherwise take for a flood.
  const r = await start(() => startRelay({ vars: BENCH_RELAY_VARS }));
  const ctx = await relayContext(r, o);

  const plan: PhaseRun[] = [
    (c, conn) => handshakes(c, conn, o.handshakes),
    (c, conn) => sequentialPings(c, conn, o.pings),
    (c, conn) => batchedPings(c, conn, o.pings * o.batchRounds, o.batchSize),
    (c) => httpRequests(c, HTTP_REQUESTS),
  ];
  if (o.messages > 0) plan.push((c) => steadyPhase(c, o.messages));
  if (o.backlog > 0) plan.push((c) => backlogPhase(c, o.backlog));
  if (o.throughputTotal > 0) for (const nq of o.throughputQueues) plan.push((c) => throughputPhase(c, levelTotal(o, nq), nq));
  // Last: its queues stay behind (subscribed by a closed connection), nothing after it measures time.
  if (o.resubQueues > 0) plan.push((c) => resubPhase(c, o.resubQueues));
  const conn = await warmUp(ctx);
  process.stderr.write("measuring:\n");
  const phases = await runPlan(ctx, r, plan, conn, () => recover(ctx, r));
  // Short-link costs (counters only, no timing): on the same relay, after the timed phases.
  let linkJson: Record<string, number> = {};
  if (o.messages > 0) {
    process.stderr.write("short-link costs (counters)...\n");
    linkJson = await withPair(ctx, 1, async (p, [reader]) => reportLinkCosts(await measureLinkCosts(p, reader!, ctx.metricsUrl, LINK_OPS, LINK_MESSAGES, o.msgBytes)));
  }
  const procs = ctx.procs;
  await stop(r);

  const relayMemory = await relayIdleMemory(o);
  const statsRuns = await relayStatsCost(o);
  const baselines = await runBaselines(o);
  const { micro, inWorkerd } = await runMicrobenchmarks(o);

  const msgPhases = phases.filter(isMsgPhase);
  const json = {
    ...report(
      o,
      procs,
      phases.filter((p) => !isMsgPhase(p) && !isResubPhase(p)),
      msgPhases,
      phases.find(isResubPhase),
      micro,
      inWorkerd,
      date,
    ),
    ...linkJson,
    ...reportStatsCost(statsRuns),
    ...reportBundleSize(workerBundleSize()),
  };
  const relayPoints = relayLoadPoints(msgPhases);
  Object.assign(json, reportComparison(comparisonInput(relayPoints, msgPhases, baselines, relayMemory)));
  Object.assign(json, reportTargets(json));
  writeOutputs(o, date, relayPoints, baselines, json);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  if (isBailing()) await new Promise((r) => setTimeout(r, 30_000)); // bail() exits before that
  console.error(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  const last = lastStartedInstance();
  if (last) console.error(`wrangler dev log (tail):\n${last.log().slice(-2000)}`);
  code = 1;
} finally {
  await stopAll();
}
process.exit(code);
