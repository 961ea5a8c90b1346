// The relay's statistics over real WebSockets (issue 14; src/server/stats.ts, statsReport.ts,
// README "Statistics"): a scripted session of two clients, a third that only connects, and
// connections that fail their handshake in three ways; then GET /admin/stats must show exactly
// what happened (every event counter and every command kind) and nothing else, and
// GET /admin/metrics the same totals as Prometheus text. Also the report's window of days, its
// `since` and `mode`, and the two routes behind the admin token.
import { describe, expect, it } from "vitest";
import { ack, createQueue, decryptMessage, derX25519, getMessage, secureQueue, secureSenderQueue, sendMessage, type RecipientQueue } from "../../src/client/queues.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import { base64url } from "../../src/protocol/base64.js";
import { asciiBytes } from "../../src/protocol/encoding.js";
import { BLOCK_SIZE } from "../../src/protocol/padding.js";
import { encodeClientTransmission, encodeSigned } from "../../src/protocol/transmission.js";
import { COMMAND_KINDS, EVENT_COUNTERS, type CommandKind, type EventCounter } from "../../src/server/statsCounters.js";
import type { StatsReport } from "../../src/server/statsReport.js";
import { outcome } from "../helpers/authWire.js";
import { startLocalTestRelay } from "../helpers/localRelay.js";
import { RawSocket } from "../helpers/rawConn.js";
import { pushesOf, relayForFile } from "../helpers/relayClients.js";

const TOKEN = "test-admin-token-stats-5d1e7a9c04b2";
const QUOTA = 3;
const { relay, client } = relayForFile({ ADMIN_TOKEN: TOKEN, QUEUE_QUOTA: QUOTA });

const EMPTY = new Uint8Array(0);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const rcvAuth = (q: RecipientQueue) => ({ x25519PrivateKey: q.rcvAuthKey.privateKey });

function admin(path: string, token: string | null = TOKEN, method = "GET"): Promise<Response> {
  const headers = new Headers();
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return fetch(`${relay().httpUrl}/admin${path}`, { method, headers });
}

async function stats(query = ""): Promise<StatsReport> {
  const res = await admin(`/stats${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  return (await res.json()) as StatsReport;
}

/** Polls GET /admin/stats until `ready` holds (the Sessions flush when their connections end). */
async function statsWhen(what: string, ready: (r: StatsReport) => boolean, ms = 20_000): Promise<StatsReport> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await stats();
    if (ready(r)) return r;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; last total ${JSON.stringify(r.total)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}


const bodyText = (q: RecipientQueue, msgId: Uint8Array, body: Uint8Array): string => {
  const m = decryptMessage(q, msgId, body);
  return m.quota ? "QUOTA" : new TextDecoder().decode(m.body);
};

/** The whole totals object this file's script must produce: every event counter and every command kind. */
function totals(events: Partial<Record<EventCounter, number>>, commands: Partial<Record<CommandKind, number>>): StatsReport["total"] {
  const e = Object.fromEntries(EVENT_COUNTERS.map((n) => [n, events[n] ?? 0])) as Record<EventCounter, number>;
  const c = Object.fromEntries(COMMAND_KINDS.map((k) => [k, commands[k] ?? 0])) as Record<CommandKind, number>;
  return { ...e, commands: c };
}

const today = (): string => new Date().toISOString().slice(0, 10);

/** The report after the script (the first test), for the tests that read it. */
let afterScript: StatsReport | null = null;

const EXPECTED = totals(
  {
    // A, B, C (connected, nothing sent), and three that never finished their handshake.
    connections: 6,
    handshakesFailed: 3,
    queuesCreated: 2,
    // q1 by KEY (recipient), q2 by SKEY (sender).
    queuesSecured: 2,
    // q1 by DEL, q2 by the operator.
    queuesDeleted: 2,
    // 2 on q1, 3 on q2.
    messagesSent: 5,
    // ACK answered MSG (q1), ACK answered OK (q1), ACK after GET answered OK (q2).
    messagesDelivered: 3,
    messagesExpired: 0,
    quotaRefusals: 1,
  },
  {
    NEW: 2,
    KEY: 1,
    SKEY: 1,
    // 2 + 3 OK, 1 QUOTA, 1 without an entity (CMD NO_ENTITY).
    SEND: 7,
    // Two delivering on q1, one with an unknown msgId (NO_MSG), one after GET on q2.
    ACK: 4,
    GET: 1,
    PING: 1,
    // One on a queue that does not exist (AUTH).
    SUB: 1,
    // OK, then AUTH (already deleted).
    DEL: 2,
    // A tag the relay does not know.
    invalid: 1,
  },
);

describe("statistics of a scripted session", () => {
  it("count exactly what happened: every event counter and every command kind, nothing else", async () => {
    // Nothing yet: a new relay has no statistics.
    const before = await stats();
    expect(before.since).toBeNull();
    expect(before.total).toEqual(totals({}, {}));

    const a = await client();
    const b = await client();
    const c = await client();
    c.close();
    const aPushes = pushesOf(a);

    // Two queues: q1 subscribed at NEW, secured by its recipient (KEY); q2 secured by its sender (SKEY).
    const q1 = await createQueue(a, { subscribe: true });
    const q2 = await createQueue(a, { subscribe: false });
    const sender1 = await generateX25519();
    const sender2 = await generateX25519();
    await secureQueue(a, q1, derX25519(sender1.publicKey));
    await secureSenderQueue(b, q2.sndId, sender2);

    // q1: two messages, received and acknowledged (the first ACK answers with the second MSG).
    await sendMessage(b, q1.sndId, text("one"), { senderKey: sender1 });
    await sendMessage(b, q1.sndId, text("two"), { senderKey: sender1 });
    const first = (await aPushes.next()).response;
    if (first.tag !== "MSG") throw new Error(`expected MSG, got ${outcome(first)}`);
    expect(bodyText(q1, first.msgId, first.body)).toBe("one");
    const second = await ack(a, q1, first.msgId);
    if (second === null || second.quota) throw new Error("expected the second message in reply to ACK");
    expect(new TextDecoder().decode(second.body)).toBe("two");
    expect(await ack(a, q1, second.msgId)).toBeNull();
    // An ACK of nothing delivered: counted as an ACK, not as a delivery.
    expect(outcome(await a.request(q1.rcvId, { tag: "ACK", msgId: randomBytes(24) }, rcvAuth(q1)))).toBe("ERR NO_MSG");

    // q2: filled to the quota, one more refused; the recipient reads one with GET and ACKs it.
    for (const m of ["x1", "x2", "x3"]) await sendMessage(b, q2.sndId, text(m), { senderKey: sender2 });
    const refused = await b.request(q2.sndId, { tag: "SEND", notify: false, body: text("x4") }, { x25519PrivateKey: sender2.privateKey });
    expect(outcome(refused)).toBe("ERR QUOTA");
    const got = await getMessage(a, q2);
    if (got === null || got.quota) throw new Error("expected a message from GET");
    expect(new TextDecoder().decode(got.body)).toBe("x1");
    expect(await ack(a, q2, got.msgId)).toBeNull();

    // A PING, a tag the relay does not know, a SUB to a queue that does not exist, a SEND without a queue.
    await a.ping();
    const corrId = randomBytes(24);
    const unknown = await a.requestRaw(corrId, encodeClientTransmission(EMPTY, encodeSigned(corrId, EMPTY, asciiBytes("FOO"))));
    expect(outcome(unknown)).toBe("ERR CMD UNKNOWN");
    const stranger = await generateX25519();
    expect(outcome(await a.request(randomBytes(24), { tag: "SUB" }, { x25519PrivateKey: stranger.privateKey }))).toBe("ERR AUTH");
    expect(outcome(await b.request(EMPTY, { tag: "SEND", notify: false, body: text("nowhere") }))).toBe("ERR CMD NO_ENTITY");

    // q1 deleted by its recipient (a second DEL finds nothing); q2 by the operator.
    expect(outcome(await a.request(q1.rcvId, { tag: "DEL" }, rcvAuth(q1)))).toBe("OK");
    expect(outcome(await a.request(q1.rcvId, { tag: "DEL" }, rcvAuth(q1)))).toBe("ERR AUTH");
    const del = await admin(`/queues/${base64url.encode(q2.rcvId)}/delete`, TOKEN, "POST");
    expect(del.status).toBe(200);
    // The operator's delete is counted as it happens, before any connection has ended.
    expect((await stats()).total.queuesDeleted).toBe(1);

    // Three connections that never finish their handshake: a garbage hello (closed 1002), one that
    // leaves cleanly after the server hello, one that drops its TCP connection.
    const garbage = new RawSocket(relay().wsUrl);
    await garbage.opened;
    await garbage.serverHello();
    garbage.send(new Uint8Array(BLOCK_SIZE).fill(0xff));
    expect((await garbage.closed).code).toBe(1002);
    const leaves = new RawSocket(relay().wsUrl);
    await leaves.opened;
    await leaves.serverHello();
    leaves.ws.close(1000, "bye");
    await leaves.closed;
    const drops = new RawSocket(relay().wsUrl);
    await drops.opened;
    await drops.serverHello();
    drops.close(); // terminate(): no close frame

    a.close();
    b.close();

    const report = await statsWhen("every connection flushed", (r) => r.total.connections >= EXPECTED.connections);
    expect(report.total).toEqual(EXPECTED);
    // Nothing arrives late (a second flush of a connection, say): the totals stay as they are.
    await new Promise((r) => setTimeout(r, 1500));
    const settled = await stats();
    expect(settled.total).toEqual(EXPECTED);
    afterScript = settled;
  });

  it("days: 30 by default, oldest first, today last and holding today's counts; since and mode", async () => {
    expect(afterScript).not.toBeNull();
    const r = await stats();
    expect(r.mode).toBe("public");
    expect(r.since).toBe(today());
    expect(r.days).toHaveLength(30);
    const days = r.days.map((d) => d.day);
    expect(days[days.length - 1]).toBe(today());
    // Consecutive UTC days, oldest first.
    for (let i = 1; i < days.length; i++) expect(Date.parse(days[i]!) - Date.parse(days[i - 1]!)).toBe(86_400_000);
    // Everything happened today: today's entry is the total, every other day is empty.
    const { day: _d, ...todays } = r.days[r.days.length - 1]!;
    expect(todays).toEqual(r.total);
    for (const d of r.days.slice(0, -1)) {
      const { day, ...counts } = d;
      expect(counts, day).toEqual(totals({}, {}));
    }
  });

  it("?days=N gives N days ending today; a days that is not 1 to 366 is 400", async () => {
    for (const n of [1, 7, 366]) {
      const r = await stats(`?days=${n}`);
      expect(r.days).toHaveLength(n);
      expect(r.days[n - 1]!.day).toBe(today());
      expect(r.total).toEqual(EXPECTED);
    }
    for (const bad of ["0", "367", "-1", "1.5", "abc", "", "7x", "1000", "%207"]) {
      const res = await admin(`/stats?days=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(await res.json(), bad).toEqual({ error: "days must be a whole number from 1 to 366" });
    }
  });

  it("GET /admin/metrics: Prometheus text with HELP and TYPE, the same totals as the JSON", async () => {
    const res = await admin("/metrics");
    expect(res.status).toBe(200);
    const type = res.headers.get("content-type") ?? "";
    expect(type).toMatch(/^text\/plain/);
    expect(type).toContain("version=0.0.4");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.text();
    const lines = body.split("\n").filter((l) => l !== "");
    const help = new Set(lines.filter((l) => l.startsWith("# HELP ")).map((l) => l.split(" ")[2]));
    const types = new Map(lines.filter((l) => l.startsWith("# TYPE ")).map((l) => [l.split(" ")[2], l.split(" ")[3]]));
    const samples = new Map<string, number>();
    for (const l of lines.filter((l) => !l.startsWith("#"))) {
      const m = /^([a-z_]+(?:\{command="[A-Za-z]+"\})?) ([0-9]+)$/.exec(l);
      expect(m, l).not.toBeNull();
      expect(samples.has(m![1]!), `one sample of ${m![1]}`).toBe(false);
      samples.set(m![1]!, Number(m![2]));
    }
    const snake = (n: string): string => n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const json = (await stats()).total;
    const expected = new Map<string, number>();
    for (const n of EVENT_COUNTERS) {
      const metric = `smp_relay_${snake(n)}_total`;
      expect(help.has(metric), metric).toBe(true);
      expect(types.get(metric), metric).toBe("counter");
      expected.set(metric, json[n]);
    }
    expect(help.has("smp_relay_commands_total")).toBe(true);
    expect(types.get("smp_relay_commands_total")).toBe("counter");
    for (const k of COMMAND_KINDS) expected.set(`smp_relay_commands_total{command="${k}"}`, json.commands[k]);
    expect(samples).toEqual(expected);
    expect(json).toEqual(EXPECTED);
    expect(samples.get("smp_relay_connections_total")).toBe(6);
    expect(samples.get('smp_relay_commands_total{command="SEND"}')).toBe(7);
  });

  it("both routes refuse no token and a wrong token (401); reading them counts nothing", async () => {
    for (const path of ["/stats", "/metrics", "/stats?days=7"]) {
      for (const token of [null, `${TOKEN}x`]) {
        const res = await admin(path, token);
        expect(res.status, `${path} ${token === null ? "no token" : "wrong token"}`).toBe(401);
        expect(await res.json()).toEqual({ error: "unauthorized" });
      }
    }
    expect((await stats()).total).toEqual(EXPECTED);
  });
});

describe("without ADMIN_TOKEN", () => {
  it("GET /admin/stats and /admin/metrics are 404, as an unknown path", async () => {
    const r = await startLocalTestRelay();
    try {
      const unknown = await fetch(`${r.httpUrl}/no-such-path`);
      const unknownBody = await unknown.text();
      for (const path of ["/admin/stats", "/admin/metrics", "/admin/stats?days=7"]) {
        for (const auth of [null, "Bearer anything"]) {
          const res = await fetch(`${r.httpUrl}${path}`, { headers: auth === null ? {} : { authorization: auth } });
          expect(res.status, path).toBe(404);
          expect(await res.text(), path).toBe(unknownBody);
        }
      }
    } finally {
      await r.stop();
    }
  });
});
