// `npm run load` at a size that fits the test run: the same load function (bench/load-run.ts)
// against a local relay it starts itself: 10 connections, 50 queues, 5 messages each, every
// message delivered once and in order; and `npm run load -- --burst 150` (bench/load-burst.ts).
import { describe, expect, it } from "vitest";
import { burstLoad } from "../../bench/load-burst.js";
import { formatSummary, runLoad } from "../../bench/load-run.js";

describe("load", () => {
  it("10 connections, 50 queues, 5 messages each: nothing lost, nothing duplicated, all in order", async () => {
    const r = await runLoad({ connections: 10, queues: 50, messages: 5, timeoutMs: 100_000 });
    const figures = formatSummary(r);
    expect(r.failures, figures).toEqual([]);
    expect(
      {
        ok: r.ok,
        sent: r.sent,
        uncertain: r.uncertain,
        delivered: r.delivered,
        lost: r.lost,
        duplicated: r.duplicated,
        outOfOrder: r.outOfOrder,
        unexpected: r.unexpected,
        timedOut: r.timedOut,
      },
      figures,
    ).toEqual({
      ok: true,
      sent: 250,
      uncertain: 0,
      delivered: 250,
      lost: 0,
      duplicated: { byMsgId: 0, legitimateRedeliveries: 0, byContent: 0 },
      outOfOrder: 0,
      unexpected: 0,
      timedOut: false,
    });
    expect(r.latencyMs.samples).toBe(250);
  }, 120_000);

  it("a burst: one sender issues 150 SENDs of 15,000 bytes at once, none lost, no connection dropped", async () => {
    const r = await runLoad(burstLoad(150, { timeoutMs: 100_000 }));
    const figures = formatSummary(r);
    expect(r.failures, figures).toEqual([]);
    expect({ senders: r.senders, recipients: r.recipients, msgBytes: r.msgBytes }).toEqual({ senders: 1, recipients: 3, msgBytes: 15_000 });
    expect({ ok: r.ok, sent: r.sent, uncertain: r.uncertain, delivered: r.delivered, lost: r.lost, drops: r.drops, timeouts: r.timeouts }, figures).toEqual({
      ok: true,
      sent: 150,
      uncertain: 0,
      delivered: 150,
      lost: 0,
      drops: 0,
      timeouts: 0,
    });
  }, 120_000);
});
