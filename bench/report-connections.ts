// The connections' section of the bench's report: what the relay's counters (GET /debug/metrics)
// saw per handshake (connect, hello, close) and per queue SUBscribed again after a reconnect, the
// costs a client has before it sends anything; and their JSON keys.
import type { ResubPhase } from "./connections.js";
import { fmt, r3, table } from "./format.js";
import type { Phase } from "./measure.js";
import { billed, counterDelta, perMessage, type Costs, type Counters } from "./counters.js";
import { rawCounterHeader, rawCounterRow } from "./report-messages.js";

/**
 * A connection's upgrade: the Worker's fetch into a new Session object, billed as one request,
 * which no counter inside the objects sees. Added to the handshake's counted requests. (Its close
 * is an event of the hibernated socket, not billed as a request.)
 */
export const UPGRADE_REQUESTS = 1;

/** Clients of this many queues, for the line on what one reconnect costs. */
const EXAMPLE_QUEUES = 20;

interface Counted {
  label: string;
  ops: number;
  delta: Counters;
  per: Costs;
}

function counted(label: string, p: Phase, extraRequests = 0): Counted | null {
  if (!p.counters) return null;
  const delta = counterDelta(p.counters.before, p.counters.after);
  const per = perMessage(billed(delta), p.completed);
  return { label, ops: p.completed, delta, per: { ...per, doRequests: per.doRequests + extraRequests } };
}

/** Prints the section and returns its JSON keys (handshake_*, resub_*). */
export function reportConnectionCosts(hs: Phase, resub: ResubPhase | undefined): Record<string, unknown> {
  const h = counted("handshake (connect, hello, close)", hs, UPGRADE_REQUESTS);
  const r = resub ? counted(`reconnect: SUB again, per queue (${resub.resubQueues} queues)`, resub) : null;
  const all = [h, r].filter((x): x is Counted => x !== null);
  if (all.length === 0) return {};

  console.log("\nConnections: DO requests and rows per handshake and per queue subscribed again after a reconnect (the relay's counters)\n");
  console.log(
    table(
      ["", "ops", "DO requests", "rows read", "rows written"],
      all.map((x) => [x.label, String(x.ops), fmt(x.per.doRequests, 3), fmt(x.per.rowsRead, 3), fmt(x.per.rowsWritten, 3)]),
    ),
  );
  console.log(`(a handshake's DO requests include its upgrade, ${UPGRADE_REQUESTS} request that the counters do not see, and with STATS on the`);
  console.log(" statistics flush at its close (Stats.add); a reconnect's SUBs go out together, and each includes the END the queue");
  console.log(" pushes to the old connection's Session; rows written include setAlarm)\n");
  console.log(table(rawCounterHeader("ops"), all.map((x) => rawCounterRow(x.label, x.delta, x.ops))));
  if (h && r) {
    const requests = h.per.doRequests + EXAMPLE_QUEUES * r.per.doRequests;
    const rows = h.per.rowsWritten + EXAMPLE_QUEUES * r.per.rowsWritten;
    console.log(`A client of ${EXAMPLE_QUEUES} queues that reconnects: ${fmt(requests, 2)} DO requests and ${fmt(rows, 2)} rows written (its handshake and ${EXAMPLE_QUEUES} SUBs)`);
  }

  const json: Record<string, unknown> = {};
  if (h) Object.assign(json, { handshake_do_requests: r3(h.per.doRequests), handshake_rows_written: r3(h.per.rowsWritten), handshake_rows_read: r3(h.per.rowsRead) });
  if (r) {
    Object.assign(json, {
      resub_queues: r.ops,
      resub_do_requests: r3(r.per.doRequests),
      resub_rows_written: r3(r.per.rowsWritten),
      resub_rows_read: r3(r.per.rowsRead),
    });
  }
  return json;
}
