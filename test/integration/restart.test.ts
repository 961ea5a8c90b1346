// Messages live in the Queue objects' storage: they survive a dropped connection and a restart
// of the relay process, and are delivered once a new connection subscribes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect, type SMPClient } from "../../src/client/client.js";
import { ack, createQueue, deliveries, sendMessage, subscribe, type MessageBody } from "../../src/client/queues.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

const utf8 = new TextEncoder();
const text = (m: unknown): string => new TextDecoder().decode((m as MessageBody).body);

async function client(relay: TestRelay): Promise<SMPClient> {
  const health = (await (await fetch(`${relay.httpUrl}/health`)).json()) as { address: string };
  return connect(relay.wsUrl, parseAddress(health.address).keyHash, { WebSocket: WebSocket as unknown as WebSocketConstructor, pingInterval: 0 });
}

describe("messages survive", () => {
  it("a dropped connection before ACK and a relay restart, then arrive once, in order", async () => {
    const storage = mkdtempSync(join(tmpdir(), "smp-relay-test-"));
    const first = await startLocalTestRelay({ persistTo: storage });
    const port = Number(new URL(first.httpUrl).port);
    const recipient = await client(first);
    const inbox = deliveries(recipient);
    const q = await createQueue(recipient, { subscribe: true });
    const sender = await client(first);
    for (let i = 1; i <= 3; i++) await sendMessage(sender, q.sndId, utf8.encode(`m${i}`));
    const d = await inbox.read(5000);
    expect(d?.type === "MSG" && text(d.message)).toBe("m1");
    // Drop both connections without acknowledging, then restart the relay on the same storage.
    recipient.close();
    sender.close();
    await first.stop();

    const second = await startLocalTestRelay({ persistTo: storage, port });
    try {
      const again = await client(second);
      const box = deliveries(again);
      await subscribe(again, q);
      const got: string[] = [];
      let msg = await box.read(5000);
      while (msg?.type === "MSG") {
        got.push(text(msg.message));
        const next = await ack(again, q, msg.message.msgId);
        msg = next ? await box.read(5000) : null;
      }
      // m1 is redelivered (it was never acknowledged), then m2 and m3; nothing twice.
      expect(got).toEqual(["m1", "m2", "m3"]);
      expect(box.pending).toBe(0);
      again.close();
    } finally {
      await second.stop();
      rmSync(storage, { recursive: true, force: true });
    }
  });
});
