// Issue 10: a burst of large SENDs on one connection. 300 concurrent 15,000-byte SENDs (one block
// each) to 300 queues used to overflow the relay's MAX_PENDING_BLOCKS (64) and close the
// connection (1008 "too many pending blocks"); with the client's window on blocks in flight
// (src/client/blockWindow.ts) every SEND is answered OK, the connection stays open, and every
// message reaches its recipient. The relay runs with its default limits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect, type SMPClient } from "../../src/client/client.js";
import { ack, createQueue, deliveries, sendMessage, type DeliveryStream, type RecipientQueue } from "../../src/client/queues.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { hex } from "../../src/protocol/encoding.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

const WS = WebSocket as unknown as WebSocketConstructor;
const SENDS = 300;
const BODY_BYTES = 15_000;
/** Queues per recipient connection: below NEW_QUEUES_PER_MINUTE (60). */
const PER_RECIPIENT = 50;

let relay: TestRelay;
let keyHash: Uint8Array;
const opened: SMPClient[] = [];

beforeAll(async () => {
  relay = await startLocalTestRelay({ vars: { MAX_PENDING_BLOCKS: "64", NEW_QUEUES_PER_MINUTE: "60" } });
  keyHash = parseAddress(((await (await fetch(`${relay.httpUrl}/health`)).json()) as { address: string }).address).keyHash;
});

afterAll(async () => {
  for (const c of opened) if (c.isOpen) c.close();
  await relay?.stop();
});

async function open(): Promise<SMPClient> {
  const c = await connect(relay.wsUrl, keyHash, { WebSocket: WS, pingInterval: 0, commandTimeout: 30_000 });
  opened.push(c);
  return c;
}

/** The body of message `i`: its number, then filler up to BODY_BYTES. */
function body(i: number): Uint8Array {
  const b = new Uint8Array(BODY_BYTES).fill(0x2e);
  b.set(new TextEncoder().encode(`burst ${i} `));
  return b;
}

interface Recipient {
  client: SMPClient;
  inbox: DeliveryStream;
  queues: RecipientQueue[];
}

/** Recipient connections, each with its share of the queues (NEW, subscribed). */
async function recipients(queues: number): Promise<Recipient[]> {
  const n = Math.ceil(queues / PER_RECIPIENT);
  return Promise.all(
    Array.from({ length: n }, async (_, r) => {
      const client = await open();
      const inbox = deliveries(client);
      const count = Math.min(PER_RECIPIENT, queues - r * PER_RECIPIENT);
      const qs = await Promise.all(Array.from({ length: count }, () => createQueue(client, { subscribe: true })));
      return { client, inbox, queues: qs };
    }),
  );
}

/** Reads a recipient's deliveries until each of its queues has one message; ACKs them. */
async function receiveAll(r: Recipient, bodyOf: Map<string, Uint8Array>): Promise<Map<string, Uint8Array>> {
  const got = new Map<string, Uint8Array>();
  while (got.size < r.queues.length) {
    const d = await r.inbox.read(30_000);
    if (d === null) throw new Error("recipient connection ended");
    if (d.type !== "MSG") throw new Error(`unexpected delivery ${d.type}${d.type === "ERROR" ? `: ${d.error.message}` : ""}`);
    if (!("body" in d.message)) throw new Error("a quota marker");
    const key = hex(d.rcvId);
    if (got.has(key)) throw new Error(`a second message on queue ${key}`);
    got.set(key, d.message.body);
    await ack(r.client, d.queue, d.message.msgId);
  }
  for (const k of got.keys()) if (!bodyOf.has(k)) throw new Error(`a message on queue ${k} that was not sent to`);
  return got;
}

describe("a burst of large SENDs on one connection (issue 10)", () => {
  it(`${SENDS} concurrent ${BODY_BYTES}-byte SENDs to ${SENDS} queues: all OK, connection open, all delivered`, async () => {
    const rs = await recipients(SENDS);
    const queues = rs.flatMap((r) => r.queues);
    expect(queues.length).toBe(SENDS);
    const expected = new Map(queues.map((q, i) => [hex(q.rcvId), body(i)]));

    const sender = await open();
    const results = await Promise.allSettled(queues.map((q, i) => sendMessage(sender, q.sndId, body(i))));
    const failed = results.filter((x) => x.status === "rejected").map((x) => String((x as PromiseRejectedResult).reason));
    expect(failed.slice(0, 3), `${failed.length} SENDs failed`).toEqual([]);
    expect(sender.isOpen).toBe(true);
    // One 15,000-byte SEND fills a block: the burst went out as one block per SEND.
    expect(sender.stats.blocksSent).toBe(SENDS);
    expect(sender.blocksInFlight).toBe(0);
    await sender.ping();

    const received = new Map<string, Uint8Array>();
    for (const got of await Promise.all(rs.map((r) => receiveAll(r, expected)))) for (const [k, b] of got) received.set(k, b);
    expect(received.size).toBe(SENDS);
    for (const [k, b] of expected) expect(hex(received.get(k)!), `queue ${k}`).toBe(hex(b));
    for (const r of rs) expect(r.client.isOpen).toBe(true);
  }, 120_000);
});
