// The browser page's script: connects to a relay with the client library, creates a queue,
// sends itself a message through it and shows what arrived. Bundle it (from your project, with
// smp-relay installed) with
//   npx esbuild app.js --bundle --format=esm --platform=browser --outfile=app.bundle.js
// then serve this directory (e.g. `npx http-server` or `python3 -m http.server`) and open
// index.html?ws=ws://127.0.0.1:PORT/&address=smp://KEYHASH@127.0.0.1:PORT
// with the URL and address `npx smp-relay dev` printed.
import { ack, connect, createQueue, deliveries, parseAddress, sendMessage } from "smp-relay/client";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("ws").value = params.get("ws") ?? "ws://127.0.0.1:8787/";
$("address").value = params.get("address") ?? "";

function show(line) {
  $("log").textContent += `${line}\n`;
}

async function roundTrip() {
  const { keyHash } = parseAddress($("address").value.trim());
  const url = $("ws").value.trim();
  const alice = await connect(url, keyHash); // the browser's own WebSocket
  const bob = await connect(url, keyHash);
  try {
    const inbox = deliveries(alice);
    const queue = await createQueue(alice);
    show("queue created");
    await sendMessage(bob, queue.sndId, new TextEncoder().encode($("text").value));
    const d = await inbox.read(5000);
    if (d?.type !== "MSG" || !("body" in d.message)) throw new Error("no message arrived");
    show(`received: ${new TextDecoder().decode(d.message.body)}`);
    await ack(alice, queue, d.message.msgId);
  } finally {
    alice.close();
    bob.close();
  }
}

$("go").addEventListener("click", () => {
  roundTrip().then(
    () => show("done"),
    (e) => show(`error: ${e.message}`),
  );
});
