// A test file in another project's style (vitest): one relay for the file, started in
// beforeAll and stopped in afterAll; each test opens its own connections.
//   npm install --save-dev smp-relay miniflare vitest ws
//   npx vitest run relay.test.ts
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { ack, connect, createQueue, deliveries, getMessage, sendMessage, type SMPClient, type WebSocketConstructor } from "smp-relay/client";
import { startLocalRelay, type LocalRelay } from "smp-relay/testing";

let relay: LocalRelay;
const open: SMPClient[] = [];

async function client(): Promise<SMPClient> {
  const c = await connect(relay.wsUrl, relay.keyHash, { WebSocket: WebSocket as unknown as WebSocketConstructor });
  open.push(c);
  return c;
}

beforeAll(async () => {
  // A small quota, to see ERR QUOTA quickly; everything else as deployed.
  relay = await startLocalRelay({ vars: { QUEUE_QUOTA: 2 } });
});

afterAll(async () => {
  for (const c of open) c.close();
  await relay?.stop();
});

test("a message sent to a queue is pushed to its subscriber", async () => {
  const [alice, bob] = [await client(), await client()];
  const inbox = deliveries(alice);
  const queue = await createQueue(alice);
  await sendMessage(bob, queue.sndId, new TextEncoder().encode("hi alice"));
  const d = await inbox.read(5000);
  expect(d?.type).toBe("MSG");
  if (d?.type !== "MSG" || !("body" in d.message)) throw new Error("expected a message");
  expect(new TextDecoder().decode(d.message.body)).toBe("hi alice");
  expect(await ack(alice, queue, d.message.msgId)).toBeNull(); // nothing more waiting
});

test("QUEUE_QUOTA applies: the third pending message is refused", async () => {
  const [alice, bob] = [await client(), await client()];
  const queue = await createQueue(alice, { subscribe: false });
  const body = new TextEncoder().encode("x");
  await sendMessage(bob, queue.sndId, body);
  await sendMessage(bob, queue.sndId, body);
  await expect(sendMessage(bob, queue.sndId, body)).rejects.toThrow(/QUOTA/);
  const first = await getMessage(alice, queue);
  expect(first && "body" in first ? new TextDecoder().decode(first.body) : null).toBe("x");
});
