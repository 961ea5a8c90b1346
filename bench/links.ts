// What short links cost (issue 12), read from the relay's counters (GET /debug/metrics): Durable
// Object requests and rows written per NEW with link data, LGET (a connection's first and its
// later ones: a Session remembers an id it looked up), LKEY, and per message sent through a sender
// id the client chose (SEND → MSG → ACK, as the steady phase measures a relay-chosen one).
import { createContactAddress, createInvitation, getLinkData, secureInvitationLink, type Invitation } from "../src/client/links.js";
import type { SMPClient } from "../src/client/client.js";
import { generateX25519 } from "../src/crypto/x25519.js";
import { billed, counterDelta, countersReset, perMessage, settledCounters, type Costs } from "./counters.js";
import { steadyStream, type Pair } from "./messages.js";

export interface LinkCosts {
  newContact: Costs;
  newInvitation: Costs;
  /** LGET of an address this connection has not looked up yet (a lookup and the queue). */
  lgetFirst: Costs;
  /** LGET again on the same connection (the queue only). */
  lgetRemembered: Costs;
  lkey: Costs;
  /** Per message through an invitation's sender id after LKEY (the link already consumed). */
  sendClientSndId: Costs;
  /** How many of each operation were counted. */
  ops: number;
  messages: number;
}

/**
 * Counters around `f`, per `n` operations, each reading once they have settled (a connection
 * closed just before, and its statistics flush, stays out). Throws when the counters went
 * backwards (a new isolate).
 */
async function counted(metricsUrl: string, n: number, f: () => Promise<void>): Promise<Costs> {
  const before = await settledCounters(metricsUrl);
  await f();
  const after = await settledCounters(metricsUrl);
  const d = counterDelta(before, after);
  if (countersReset(d)) throw new Error("link costs: the relay's counters went backwards (a new isolate)");
  return perMessage(billed(d), n);
}

const blob = (s: string): Uint8Array => new TextEncoder().encode(s.padEnd(400, "."));

/**
 * Runs the short-link operations `n` times each (one at a time, so every block carries one
 * command) on the pair's connections and a reader's, and `messages` SENDs through a client-chosen
 * sender id.
 */
export async function measureLinkCosts(p: Pair, reader: SMPClient, metricsUrl: string, n: number, messages: number, size: number): Promise<LinkCosts> {
  const blobs = { fixedData: blob("fixed"), userData: blob("user") };
  const addresses: { linkId: Uint8Array }[] = [];
  const invitations: Invitation[] = [];
  const newContact = await counted(metricsUrl, n, async () => {
    for (let i = 0; i < n; i++) addresses.push(await createContactAddress(p.recipient, { ...blobs, subscribe: false }));
  });
  const newInvitation = await counted(metricsUrl, n, async () => {
    for (let i = 0; i < n; i++) invitations.push(await createInvitation(p.recipient, { ...blobs, subscribe: true }));
  });
  const lgetFirst = await counted(metricsUrl, n, async () => {
    for (const a of addresses) await getLinkData(reader, a.linkId);
  });
  const lgetRemembered = await counted(metricsUrl, n, async () => {
    for (const a of addresses) await getLinkData(reader, a.linkId);
  });
  const keys = await Promise.all(invitations.map(() => generateX25519()));
  const lkey = await counted(metricsUrl, n, async () => {
    for (let i = 0; i < n; i++) await secureInvitationLink(p.sender, invitations[i]!.linkId, keys[i]!);
  });
  const bq = { q: invitations[0]!, senderKey: keys[0]! };
  // The first message consumes the link: a one-off, kept out of the per-message figure.
  const warm = await steadyStream(p, bq, 3, size, performance.now() + 30_000, []);
  if (warm.completed < 3) throw new Error("link costs: warm-up through a client-chosen sender id timed out");
  let sent = 0;
  const sendClientSndId = await counted(metricsUrl, messages, async () => {
    sent = (await steadyStream(p, bq, messages, size, performance.now() + 120_000, [])).completed;
  });
  if (sent < messages) throw new Error(`link costs: ${sent} of ${messages} messages arrived`);
  return { newContact, newInvitation, lgetFirst, lgetRemembered, lkey, sendClientSndId, ops: n, messages };
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The bench's JSON keys for these costs, and their lines in the printed report. */
export function reportLinkCosts(l: LinkCosts): Record<string, number> {
  const rows: [string, string, Costs][] = [
    ["new_contact", "NEW with link data, contact address", l.newContact],
    ["new_invitation", "NEW with link data, invitation", l.newInvitation],
    ["lget_first", "LGET, first on a connection", l.lgetFirst],
    ["lget_remembered", "LGET, again on that connection", l.lgetRemembered],
    ["lkey", "LKEY", l.lkey],
    ["send_client_sndid", "per message via a client-chosen sender id", l.sendClientSndId],
  ];
  console.log(`\nShort links (${l.ops} of each; ${l.messages} messages): DO requests, rows written`);
  const json: Record<string, number> = {};
  for (const [key, label, c] of rows) {
    console.log(`  ${label.padEnd(44)} ${r3(c.doRequests).toFixed(3).padStart(7)} ${r3(c.rowsWritten).toFixed(3).padStart(7)}`);
    json[`${key}_do_requests`] = r3(c.doRequests);
    json[`${key}_rows_written`] = r3(c.rowsWritten);
  }
  return json;
}
