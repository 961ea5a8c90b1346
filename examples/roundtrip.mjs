// A real relay inside a Node script: start one (Miniflare, in this process), create a queue,
// send a message to it and receive it, then stop everything. Exits 0.
//   npm install smp-relay miniflare ws   (ws: Node 20 has no global WebSocket; Node 22 does)
//   node roundtrip.mjs
import WebSocket from "ws";
import { ack, connect, createQueue, deliveries, sendMessage } from "smp-relay/client";
import { startLocalRelay } from "smp-relay/testing";

const relay = await startLocalRelay(); // { wsUrl, httpUrl, address, keyHash, stop }
console.log(`relay ${relay.address} on ${relay.wsUrl}`);
try {
  const options = { WebSocket: globalThis.WebSocket ?? WebSocket };
  const alice = await connect(relay.wsUrl, relay.keyHash, options); // the recipient
  const bob = await connect(relay.wsUrl, relay.keyHash, options); // the sender
  const inbox = deliveries(alice);
  const queue = await createQueue(alice); // NEW: subscribed, so messages are pushed

  await sendMessage(bob, queue.sndId, new TextEncoder().encode("hello"));
  const delivery = await inbox.read(5000); // null after 5 s without one
  if (delivery?.type !== "MSG" || !("body" in delivery.message)) throw new Error("no message arrived");
  console.log(`alice got: ${new TextDecoder().decode(delivery.message.body)}`);
  await ack(alice, queue, delivery.message.msgId);

  // Close the connections: their keep-alive timers would keep Node running.
  alice.close();
  bob.close();
} finally {
  await relay.stop();
}
