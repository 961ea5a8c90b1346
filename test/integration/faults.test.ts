// The relay restarted in the middle of a load run: a local relay with its own storage and port,
// a few connections streaming messages over several queues (ACK-driven, bench/load-run.ts),
// the relay stopped mid-stream and started again on the same storage and port. The clients
// reconnect and SUB again; at the end every message sent with OK was delivered, in order per
// queue, and the only repeats are messages delivered but not acknowledged at the crash, with the
// same msgId (test/helpers/delivery-check.ts). The other faults are in test/worker/faults.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatSummary, runLoad, type Progress } from "../../bench/load-run.js";
import { freePort, startRelay, type RunningRelay } from "../helpers/relay.js";

/** SIGKILL to wrangler dev and its workerd processes at once: no chance to finish anything. */
async function kill(relay: RunningRelay): Promise<void> {
  const child = relay.process;
  if (child.exitCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  process.kill(-child.pid, "SIGKILL");
  await exited;
}

describe("a relay restart in the middle of a load run", () => {
  for (const how of ["stopped (SIGTERM)", "killed (SIGKILL)"] as const) {
    it(`${how}: loses nothing; every message sent with OK arrives, in order, repeated only if it was not acknowledged`, async () => {
      const storage = mkdtempSync(join(tmpdir(), "smp-relay-faults-"));
      const port = await freePort();
      let relay: RunningRelay = await startRelay({ persistTo: storage, port });
      const queues = 12;
      const messages = 30;
      const total = queues * messages;
      let restart: Promise<void> | null = null;
      let deliveredAtStop = -1;
      try {
        const address = ((await (await fetch(`${relay.httpUrl}/health`)).json()) as { address: string }).address;
        const onProgress = (p: Progress): void => {
          if (restart === null && p.delivered >= total / 3) {
            deliveredAtStop = p.delivered;
            restart = (async () => {
              if (how === "killed (SIGKILL)") await kill(relay);
              await relay.stop();
              relay = await startRelay({ persistTo: storage, port });
            })();
          }
        };
        const r = await runLoad({ connections: 6, queues, messages, url: relay.wsUrl, address, timeoutMs: 150_000, progressMs: 100, onProgress });
        await restart;
        const figures = formatSummary(r);
        // The relay did go away mid-stream, and the clients came back.
        expect(deliveredAtStop).toBeGreaterThan(0);
        expect(deliveredAtStop).toBeLessThan(total);
        expect(r.reconnects, figures).toBeGreaterThanOrEqual(6);
        expect(r.failures, figures).toEqual([]);
        expect(r.check.problems, figures).toEqual([]);
        expect({ ok: r.ok, lost: r.lost, outOfOrder: r.outOfOrder, unexpected: r.unexpected, timedOut: r.timedOut }, figures).toEqual({
          ok: true,
          lost: 0,
          outOfOrder: 0,
          unexpected: 0,
          timedOut: false,
        });
        expect(r.duplicated.byContent, figures).toBe(0);
        // Repeats: only redeliveries of unacknowledged messages (same msgId), at most one per queue.
        expect(r.duplicated.byMsgId, figures).toBe(r.duplicated.legitimateRedeliveries);
        expect(r.duplicated.legitimateRedeliveries, figures).toBeLessThanOrEqual(queues);
        // Every message is accounted for: sent with OK (all delivered), or cut off by the restart.
        expect(r.sent + r.uncertain, figures).toBe(total);
        expect(r.delivered, figures).toBeGreaterThanOrEqual(r.sent);
      } finally {
        await relay.stop();
        rmSync(storage, { recursive: true, force: true });
      }
    }, 240_000);
  }
});
