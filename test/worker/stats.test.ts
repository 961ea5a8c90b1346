// Statistics inside workerd, next to the Durable Objects (issue 14; src/server/stats.ts,
// sessionStats.ts, session.ts, queue.ts): what a Session flushes when its connection ends (once,
// however it ends), counts surviving hibernation in the socket attachment, messages a Queue expires,
// STATS=off, what the Stats object refuses, the UTC day rollover (sessionStats.ts's pure functions
// too), what it costs (one Stats request per connection, none per message), and the size of the
// fullest attachment.
//
// Test files run side by side against the same objects, and the relay has one Stats object: so
// each test gives the objects it watches a STATISTICS binding of its own (`privateStats`), which
// records every request and sends it on to a Stats object no one else writes. What a test reads
// there is exactly what its own connections and queues flushed.
import { env, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { createQueue, sendMessage } from "../../src/client/queues.js";
import { randomBytes } from "../../src/crypto/random.js";
import { encodeClientTransmission, encodeSigned } from "../../src/protocol/transmission.js";
import { asciiBytes, hex } from "../../src/protocol/encoding.js";
import { decodeServerHello } from "../../src/protocol/hello.js";
import { BLOCK_SIZE, unpad } from "../../src/protocol/padding.js";
import { DEFAULT_CONFIG } from "../../src/server/config.js";
import { metrics } from "../../src/server/metrics.js";
import { QueueDO } from "../../src/server/queue.js";
import { SessionDO } from "../../src/server/session.js";
import { readState, writeState, type OpenState, type SessionState } from "../../src/server/sessionState.js";
import { finalFlush, openedCounts, takeDayRollover, withCounts } from "../../src/server/sessionStats.js";
import { recordStats, STATS_OBJECT, type DayCounts, type StatsDO } from "../../src/server/stats.js";
import { addAll, COUNTER_NAMES, packCounts, unpackCounts, utcDay, type Counts } from "../../src/server/statsCounters.js";
import { evict, queueObjectOf } from "./objects.js";
import { openWithSession } from "./session-of.js";
import { until } from "./watched-conn.js";

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

// ---- A Stats binding of the test's own ----

interface PrivateStats {
  /** Put in place of env.STATISTICS. */
  binding: Env["STATISTICS"];
  /** Every Stats request made through it, in order, as sent. */
  adds: { day: number; counts: Counts }[];
  /** The Stats object those requests reach (no one else's). */
  stub: DurableObjectStub<StatsDO>;
  read(): Promise<DayCounts[]>;
}

function privateStats(): PrivateStats {
  const name = `test-${hex(randomBytes(8))}`;
  const adds: PrivateStats["adds"] = [];
  // Stubs are made where they are used: one made in another object's context cannot be called.
  const binding = {
    getByName: (asked: string) => {
      if (asked !== STATS_OBJECT) throw new Error(`the relay asked for Stats object "${asked}"`);
      return {
        add: (day: number, counts: Counts) => {
          adds.push({ day, counts: structuredClone(counts) });
          return env.STATISTICS.getByName(name).add(day, counts);
        },
      };
    },
  } as unknown as Env["STATISTICS"];
  return {
    binding,
    adds,
    get stub() {
      return env.STATISTICS.getByName(name);
    },
    read: () => env.STATISTICS.getByName(name).read(),
  };
}

/** The object's env from now on: the real one with these changes (and the private Stats binding). */
function withEnv(stats: PrivateStats, over: Record<string, string> = {}): Env {
  return { ...env, ...over, STATISTICS: stats.binding } as Env;
}

/** Gives a live object (Session or Queue) the private Stats binding. */
async function redirect<T extends Rpc.DurableObjectBranded>(stub: DurableObjectStub<T>, stats: PrivateStats): Promise<void> {
  await runInDurableObject(stub, (instance) => {
    (instance as unknown as { env: Env }).env = withEnv(stats);
  });
}

const today = (): number => utcDay(Date.now());
const sockets = (session: DurableObjectStub<SessionDO>): Promise<number> => runInDurableObject(session, (_i, state) => state.getWebSockets().length);

/**
 * Waits until the Session's socket is gone and `n` Stats requests were made, then a little longer:
 * a second flush of the same connection would show up as a request more.
 */
async function flushed(session: DurableObjectStub<SessionDO>, stats: PrivateStats, n: number): Promise<void> {
  await until(`${n} Stats request(s)`, () => stats.adds.length >= n, 10_000);
  for (let i = 0; (await sockets(session)) > 0; i++) {
    if (i > 500) throw new Error("the Session still holds its socket");
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 300));
  expect(stats.adds).toHaveLength(n);
}

/** The attachment's counts as stored (not the object's in-memory copy). */
const attachedCounts = (session: DurableObjectStub<SessionDO>): Promise<{ counts: Counts; countDay: number | undefined }> =>
  runInDurableObject(session, (_i, state) => {
    const s = state.getWebSockets()[0]!.deserializeAttachment() as { phase: string; counts?: Uint8Array; countDay?: number };
    if (s.phase !== "open") throw new Error(`not open: ${s.phase}`);
    return { counts: unpackCounts(s.counts), countDay: s.countDay };
  });

describe("a connection's counts (sessionStats.ts)", () => {
  const DAY = 20_000;
  const T = DAY * 86_400_000 + 3_600_000; // 01:00 UTC on day DAY
  const bytes = new Uint8Array(32);
  const open = (over: Partial<OpenState> = {}): OpenState => ({
    phase: "open",
    sessionId: bytes,
    sessionPriv: bytes,
    sessionPub: bytes,
    version: 19,
    snd: bytes,
    rcv: bytes,
    newTokens: 60,
    newAt: T,
    ...openedCounts(T),
    ...over,
  });

  it("opens counted as one connection, on its UTC day", () => {
    const o = openedCounts(T);
    expect(o.countDay).toBe(DAY);
    expect(unpackCounts(o.counts)).toEqual({ connections: 1 });
  });

  it("withCounts adds to the packed counts and changes nothing else", () => {
    const s = open();
    expect(withCounts(s, undefined)).toBe(s);
    const t = withCounts(withCounts(s, { "cmd.SEND": 2, messagesSent: 2 }), { "cmd.SEND": 1, quotaRefusals: 1 });
    expect(unpackCounts(t.counts)).toEqual({ connections: 1, "cmd.SEND": 3, messagesSent: 2, quotaRefusals: 1 });
    const { counts: _a, ...restT } = t;
    const { counts: _b, ...restS } = s;
    expect(restT).toEqual(restS);
  });

  it("takeDayRollover: nothing the same day; the day's counts to flush and a fresh start on the next", () => {
    const s = withCounts(open(), { "cmd.PING": 3 });
    expect(takeDayRollover(s, T + 10 * 3_600_000)).toBeNull();
    expect(takeDayRollover(s, (DAY + 1) * 86_400_000 - 1)).toBeNull();
    const r = takeDayRollover(s, (DAY + 1) * 86_400_000);
    expect(r).not.toBeNull();
    expect(r!.flush).toEqual({ day: DAY, counts: { connections: 1, "cmd.PING": 3 } });
    expect(r!.state.countDay).toBe(DAY + 1);
    expect(unpackCounts(r!.state.counts)).toEqual({});
    // Several days later: still one flush, for the day the counts were made.
    const later = takeDayRollover(s, (DAY + 5) * 86_400_000 + 5);
    expect(later!.flush.day).toBe(DAY);
    expect(later!.state.countDay).toBe(DAY + 5);
    // A state from before statistics (no countDay): no rollover.
    expect(takeDayRollover(open({ countDay: undefined, counts: undefined }), T + 5 * 86_400_000)).toBeNull();
  });

  it("the connection is counted once across a rollover: the next day's flush has no connections", () => {
    const s = withCounts(open(), { "cmd.NEW": 1, queuesCreated: 1 });
    const r = takeDayRollover(s, (DAY + 1) * 86_400_000 + 1)!;
    const after = withCounts(r.state, { "cmd.PING": 1 });
    const last = finalFlush(after, (DAY + 1) * 86_400_000 + 2)!;
    expect(last).toEqual({ day: DAY + 1, counts: { "cmd.PING": 1 } });
    const sum: Counts = {};
    addAll(sum, r.flush.counts);
    addAll(sum, last.counts);
    expect(sum).toEqual({ connections: 1, "cmd.NEW": 1, queuesCreated: 1, "cmd.PING": 1 });
  });

  it("finalFlush: a handshake counts opened and failed; an open connection its counts; nothing once counted", () => {
    const hs: SessionState = { phase: "handshake", sessionId: bytes, sessionPriv: bytes, sessionPub: bytes, keyHash: bytes, deadline: T };
    expect(finalFlush(hs, T + 1)).toEqual({ day: DAY, counts: { connections: 1, handshakesFailed: 1 } });
    expect(finalFlush({ ...hs, counted: true }, T + 1)).toBeNull();
    const s = withCounts(open(), { "cmd.PING": 1 });
    // Its day is the day the counts were made, even if it ends after midnight without a block.
    expect(finalFlush(s, (DAY + 1) * 86_400_000 + 1)).toEqual({ day: DAY, counts: { connections: 1, "cmd.PING": 1 } });
    expect(finalFlush({ ...s, counted: true }, T)).toBeNull();
    // A connection from before statistics: its end day and nothing counted.
    expect(finalFlush(open({ countDay: undefined, counts: undefined }), T)).toEqual({ day: DAY, counts: {} });
  });
});

// ---- Raw connections (for handshakes that fail) ----

interface RawWs {
  ws: WebSocket;
  frames: ArrayBuffer[];
  close: { code: number; reason: string } | null;
  session: DurableObjectStub<SessionDO>;
}

/** A WebSocket to the relay that has received the server hello, with the Session object serving it. */
async function rawWs(): Promise<RawWs> {
  const known = new Set((await listDurableObjectIds(env.SESSION)).map((id) => id.toString()));
  const res = await SELF.fetch("http://relay.test/", { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket!;
  const c: RawWs = { ws, frames: [], close: null, session: null as unknown as DurableObjectStub<SessionDO> };
  ws.addEventListener("message", (e) => c.frames.push(e.data as ArrayBuffer));
  ws.addEventListener("close", (e) => (c.close = { code: e.code, reason: e.reason }));
  ws.accept();
  (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
  await until("the server hello", () => c.frames.length === 1);
  const sessionId = decodeServerHello(unpad(new Uint8Array(c.frames[0]!))).sessionId;
  const added = (await listDurableObjectIds(env.SESSION)).filter((id) => !known.has(id.toString()));
  for (const id of added) {
    const stub = env.SESSION.get(id);
    const mine =
      added.length === 1 ||
      (await runInDurableObject(stub, (_i, state) => state.getWebSockets().some((w) => hex(readState(w)?.sessionId ?? EMPTY) === hex(sessionId))));
    if (mine) {
      c.session = stub;
      return c;
    }
  }
  throw new Error("no Session object for the socket");
}

const GARBAGE = (): Uint8Array => new Uint8Array(BLOCK_SIZE).fill(0xff);
const FAILED = { connections: 1, handshakesFailed: 1 };

describe("a connection that fails its handshake", () => {
  const ways: [string, (c: RawWs) => Promise<void>, number, string][] = [
    [
      "a bad hello",
      async (c) => c.ws.send(GARBAGE()),
      1002,
      "HANDSHAKE PARSE",
    ],
    [
      "a hello after the deadline (the timer lost with an eviction)",
      async (c) => {
        await runInDurableObject(c.session, (_i, state) => {
          const sock = state.getWebSockets()[0]!;
          const s = readState(sock);
          if (s?.phase !== "handshake") throw new Error("not in the handshake");
          writeState(sock, { ...s, deadline: Date.now() - 1 });
        });
        c.ws.send(GARBAGE());
      },
      1008,
      "handshake timeout",
    ],
    [
      "the deadline's timer",
      async (c) => {
        await runInDurableObject(c.session, (instance) => (instance as unknown as { handshakeExpired(): void }).handshakeExpired());
      },
      1008,
      "handshake timeout",
    ],
    [
      "the deadline alarm of older Sessions",
      async (c) => {
        await runInDurableObject(c.session, (_i, state) => state.storage.setAlarm(Date.now() + 60_000));
        expect(await runDurableObjectAlarm(c.session)).toBe(true);
      },
      1008,
      "handshake timeout",
    ],
  ];

  it.each(ways)("closed by the relay after %s: counted once, opened and failed, though the client's close comes after", async (_what, fail, code, reason) => {
    const stats = privateStats();
    const c = await rawWs();
    await redirect(c.session, stats);
    await fail(c);
    await until("the relay's close", () => c.close !== null);
    expect(c.close).toEqual({ code, reason });
    // The relay flushed when it closed: the connection, opened and failed.
    await until("the flush", () => stats.adds.length === 1);
    expect(stats.adds[0]).toEqual({ day: today(), counts: FAILED });
    // The client's own close reaches the Session afterwards; it must not count again.
    try {
      c.ws.close(1000, "bye");
    } catch {
      // already closed on this side
    }
    await flushed(c.session, stats, 1);
    expect(await stats.read()).toEqual([{ day: today(), counts: FAILED }]);
  });

  it("closed by the relay, then a new instance gets the client's close: still counted once (the mark is in the attachment)", async () => {
    const stats = privateStats();
    const c = await rawWs();
    await redirect(c.session, stats);
    // The relay's socket, held on to: workerd drops it from getWebSockets() once closed, but a
    // close event can still reach an instance that never saw the flush (after hibernation).
    const sock = await runInDurableObject(c.session, (_i, state) => state.getWebSockets()[0]!);
    c.ws.send(GARBAGE());
    await until("the relay's close", () => c.close !== null);
    await until("the flush", () => stats.adds.length === 1);
    const attached = await runInDurableObject(c.session, () => sock.deserializeAttachment() as { phase: string; counted?: true });
    expect(attached).toMatchObject({ phase: "handshake", counted: true });
    // A new instance (nothing in its memory says the connection was counted) handles the close.
    await evict(c.session, (state) => new SessionDO(state, withEnv(stats)));
    await runInDurableObject(c.session, (instance) => instance.webSocketClose(sock, 1000, "bye", true));
    await flushed(c.session, stats, 1);
    expect(await stats.read()).toEqual([{ day: today(), counts: FAILED }]);
  });

  it("the client leaves before its hello: counted once, opened and failed", async () => {
    const stats = privateStats();
    const c = await rawWs();
    await redirect(c.session, stats);
    c.ws.close(1000, "changed my mind");
    await flushed(c.session, stats, 1);
    expect(stats.adds).toEqual([{ day: today(), counts: FAILED }]);
  });
});

// ---- Open connections ----

/** Our client on a Session whose Stats requests go to a private Stats object. */
async function openCounted(): Promise<{ client: SMPClient; session: DurableObjectStub<SessionDO>; stats: PrivateStats }> {
  const { client, session } = await openWithSession();
  const stats = privateStats();
  await redirect(session, stats);
  return { client, session, stats };
}

/** A transmission with a tag the relay does not know, and its reply. */
async function unknownCommand(client: SMPClient): Promise<string> {
  const corrId = randomBytes(24);
  const r = await client.requestRaw(corrId, encodeClientTransmission(EMPTY, encodeSigned(corrId, EMPTY, asciiBytes("NOPE"))));
  return r.tag === "ERR" ? `ERR ${r.code}` : r.tag;
}

describe("an open connection's counts", () => {
  it("wait in the socket attachment (no storage, no Stats request) and survive the object's hibernation", async () => {
    const { client, session, stats } = await openCounted();
    const q = await createQueue(client, { subscribe: false });
    await client.ping();
    expect(await unknownCommand(client)).toBe("ERR CMD UNKNOWN");
    const soFar = { connections: 1, "cmd.NEW": 1, queuesCreated: 1, "cmd.PING": 1, "cmd.invalid": 1 };
    expect(await attachedCounts(session)).toEqual({ counts: soFar, countDay: today() });
    // Counting wrote nothing to the Session's storage and asked nothing of the Stats object.
    const tables = await runInDurableObject(session, (_i, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").toArray().length,
    );
    expect(tables).toBe(0);
    expect(stats.adds).toEqual([]);

    // workerd evicts an idle object after 10 s; the hibernatable socket stays open.
    const before = await runInDurableObject(session, (instance) => instance);
    await new Promise((r) => setTimeout(r, 11_500));
    const after = await runInDurableObject(session, (instance) => instance);
    expect(after).not.toBe(before);
    // The instance the runtime made has the real binding: give it the private one again.
    await redirect(session, stats);
    expect((await attachedCounts(session)).counts).toEqual(soFar);

    // The same again with a new instance made by hand (its memory gone, the attachment kept).
    await sendMessage(client, q.sndId, utf8.encode("hello"));
    await evict(session, (state) => new SessionDO(state, withEnv(stats)));
    await client.ping();
    client.close();
    await flushed(session, stats, 1);
    const all = { ...soFar, "cmd.PING": 2, "cmd.SEND": 1, messagesSent: 1 };
    expect(stats.adds).toEqual([{ day: today(), counts: all }]);
    expect(await stats.read()).toEqual([{ day: today(), counts: all }]);
  });

  it("cost one Stats request per connection and none per message: 20 messages, then one flush at the end", async () => {
    const { client, session, stats } = await openCounted();
    const statsAddBefore = metrics.rpc.statsAdd;
    const q = await createQueue(client, { subscribe: false });
    for (let i = 0; i < 20; i++) await sendMessage(client, q.sndId, utf8.encode(`m${i}`));
    expect(stats.adds).toEqual([]);
    expect((await attachedCounts(session)).counts).toEqual({ connections: 1, "cmd.NEW": 1, queuesCreated: 1, "cmd.SEND": 20, messagesSent: 20 });
    client.close();
    await flushed(session, stats, 1);
    expect(stats.adds).toEqual([{ day: today(), counts: { connections: 1, "cmd.NEW": 1, queuesCreated: 1, "cmd.SEND": 20, messagesSent: 20 } }]);
    // The relay's own counter of Stats requests (isolate-wide: another file's connections may add to it).
    expect(metrics.rpc.statsAdd - statsAddBefore).toBeGreaterThanOrEqual(1);
  });

  it("the first block of a new UTC day flushes the previous day's counts; the connection is counted once", async () => {
    const { client, session, stats } = await openCounted();
    await client.ping();
    await client.ping();
    // As if those were counted yesterday: the connection lived through midnight.
    await runInDurableObject(session, (_i, state) => {
      const sock = state.getWebSockets()[0]!;
      const s = readState(sock);
      if (s?.phase !== "open" || s.countDay === undefined) throw new Error("no counts");
      writeState(sock, { ...s, countDay: s.countDay - 1 });
    });
    const yesterday = today() - 1;
    expect(await unknownCommand(client)).toBe("ERR CMD UNKNOWN");
    await until("yesterday's flush", () => stats.adds.length === 1);
    expect(stats.adds[0]).toEqual({ day: yesterday, counts: { connections: 1, "cmd.PING": 2 } });
    // What is left is today's: only the block that came after midnight.
    expect(await attachedCounts(session)).toEqual({ counts: { "cmd.invalid": 1 }, countDay: today() });
    await client.ping();
    client.close();
    await flushed(session, stats, 2);
    expect(stats.adds[1]).toEqual({ day: today(), counts: { "cmd.invalid": 1, "cmd.PING": 1 } });
    expect(await stats.read()).toEqual([
      { day: yesterday, counts: { connections: 1, "cmd.PING": 2 } },
      { day: today(), counts: { "cmd.invalid": 1, "cmd.PING": 1 } },
    ]);
  });
});

describe("expired messages", () => {
  it("are counted by the Queue's alarm (one request, only when some expired) and when a command meets them first", async () => {
    const { client, session, stats } = await openCounted();
    const q = await createQueue(client, { subscribe: false });
    for (const m of ["a", "b", "c"]) await sendMessage(client, q.sndId, utf8.encode(m));
    const { stub } = await queueObjectOf(q.rcvId);
    await redirect(stub, stats);
    // Two of the three messages' time to live has passed (as if MESSAGE_TTL_SECONDS went by).
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE msg SET expires = ? WHERE seq IN (SELECT seq FROM msg ORDER BY seq LIMIT 2)", Date.now() - 1000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(stats.adds).toEqual([{ day: today(), counts: { messagesExpired: 2 } }]);
    // Nothing more expired: the alarm run again asks nothing of the Stats object.
    await runInDurableObject(stub, (instance) => instance.alarm());
    expect(stats.adds).toHaveLength(1);

    // The last one expires too, and GET meets it before any alarm does.
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE msg SET expires = ?", Date.now() - 1000);
    });
    const got = await client.request(q.rcvId, { tag: "GET" }, { x25519PrivateKey: q.rcvAuthKey.privateKey });
    expect(got).toEqual({ tag: "OK" });
    await until("the GET's expiry flush", () => stats.adds.length === 2);
    expect(stats.adds[1]).toEqual({ day: today(), counts: { messagesExpired: 1 } });

    client.close();
    await flushed(session, stats, 3);
    expect(stats.adds[2]).toEqual({ day: today(), counts: { connections: 1, "cmd.NEW": 1, queuesCreated: 1, "cmd.SEND": 3, messagesSent: 3, "cmd.GET": 1 } });
    expect(await stats.read()).toEqual([
      { day: today(), counts: { messagesExpired: 3, connections: 1, "cmd.NEW": 1, queuesCreated: 1, "cmd.SEND": 3, messagesSent: 3, "cmd.GET": 1 } },
    ]);
  });
});

describe("STATS=off", () => {
  it("nothing reaches the Stats object: not from a Session, not from a Queue's expiry", async () => {
    const { client, session } = await openWithSession();
    const stats = privateStats();
    const off = withEnv(stats, { STATS: "off" });
    // A new instance reads its settings afresh: this one with STATS=off.
    await evict(session, (state) => new SessionDO(state, off));
    const q = await createQueue(client, { subscribe: false });
    await sendMessage(client, q.sndId, utf8.encode("x"));
    await client.ping();
    const { stub } = await queueObjectOf(q.rcvId);
    await evict(stub, (state) => new QueueDO(state, off));
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE msg SET expires = ?", Date.now() - 1000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM msg").one().n)).toBe(0);
    client.close();
    for (let i = 0; (await sockets(session)) > 0; i++) {
      if (i > 500) throw new Error("the Session still holds its socket");
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(stats.adds).toEqual([]);
    expect(await stats.read()).toEqual([]);
  });

  it("recordStats: nothing with STATS=off or nothing counted; one request otherwise; a failed flush never throws", async () => {
    const stats = privateStats();
    const e = withEnv(stats);
    await recordStats(e, { ...DEFAULT_CONFIG, stats: "off" }, { connections: 1 });
    await recordStats(e, { ...DEFAULT_CONFIG, stats: "public" }, {});
    expect(stats.adds).toEqual([]);
    await recordStats(e, { ...DEFAULT_CONFIG, stats: "private" }, { connections: 1 }, 123);
    await recordStats(e, { ...DEFAULT_CONFIG, stats: "public" }, { queuesDeleted: 1 });
    expect(stats.adds).toEqual([
      { day: 123, counts: { connections: 1 } },
      { day: today(), counts: { queuesDeleted: 1 } },
    ]);
    const failing = { ...env, STATISTICS: { getByName: () => ({ add: () => Promise.reject(new Error("down")) }) } } as unknown as Env;
    await expect(recordStats(failing, DEFAULT_CONFIG, { connections: 1 })).resolves.toBeUndefined();
  });
});

describe("the Stats object", () => {
  /** Calls add on the object itself; returns the rows SQLite wrote for it (add never awaits before it writes). */
  const addCounted = (stub: DurableObjectStub<StatsDO>, day: number, counts: Record<string, unknown>): Promise<number> =>
    runInDurableObject(stub, async (instance) => {
      const before = metrics.rowsWritten;
      const done = instance.add(day, counts as Counts);
      const written = metrics.rowsWritten - before;
      await done;
      return written;
    });

  it("ignores unknown counters, values that are not whole numbers from 1 to 2^40, and bad days", async () => {
    const { stub } = privateStats();
    const bad: Record<string, unknown> = {
      bogus: 5,
      "cmd.FOO": 1,
      commands: 3,
      connections: -1,
      handshakesFailed: 0,
      queuesCreated: 1.5,
      queuesSecured: Number.NaN,
      queuesDeleted: Number.POSITIVE_INFINITY,
      messagesSent: 2 ** 40 + 1,
      messagesDelivered: "7",
      messagesExpired: null,
      quotaRefusals: true,
    };
    expect(await addCounted(stub, today(), bad)).toBe(0);
    for (const day of [-1, 1.5, 1_000_001, Number.NaN]) expect(await addCounted(stub, day, { connections: 1 }), String(day)).toBe(0);
    expect(await stub.read()).toEqual([]);
    // The good ones of a mixed add are kept; the largest value allowed is 2^40.
    expect(await addCounted(stub, today(), { ...bad, connections: 2, "cmd.PING": 2 ** 40 })).toBe(1);
    expect(await stub.read()).toEqual([{ day: today(), counts: { connections: 2, "cmd.PING": 2 ** 40 } }]);
  });

  it("one add writes one row: new days and days already there alike; read lists days oldest first", async () => {
    const { stub } = privateStats();
    const d = today();
    expect(await addCounted(stub, d, { connections: 1, "cmd.SEND": 3 })).toBe(1);
    expect(await addCounted(stub, d, { connections: 1, messagesSent: 2 })).toBe(1);
    expect(await addCounted(stub, d - 3, { connections: 1 })).toBe(1);
    expect(await addCounted(stub, 0, { connections: 1 })).toBe(1);
    expect(await addCounted(stub, 1_000_000, { connections: 1 })).toBe(1);
    // Every counter at once is still one row.
    expect(await addCounted(stub, d, Object.fromEntries(COUNTER_NAMES.map((n) => [n, 1])))).toBe(1);
    const rows = await stub.read();
    expect(rows.map((r) => r.day)).toEqual([0, d - 3, d, 1_000_000]);
    const todays = rows.find((r) => r.day === d)!.counts;
    expect(todays).toEqual({ ...Object.fromEntries(COUNTER_NAMES.map((n) => [n, 1])), connections: 3, "cmd.SEND": 4, messagesSent: 3 });
  });
});

describe("the attachment budget", () => {
  /** What the relay allows itself: Cloudflare's documented limit for a socket attachment (connEntries.ts, ATTACHED_MAX). */
  const BUDGET = 2048;
  /** Bytes of `{}` serialized (V8's 2-byte header, begin and end of an object with no properties). */
  const EMPTY_OBJECT = 5;

  it("the largest per-queue entries and every counter at 2^35-1 still fit 2,048 bytes, as the runtime serializes them", async () => {
    const { client, session } = await openWithSession();
    await client.ping();
    const sizes = await runInDurableObject(session, (_i, state) => {
      const sock = state.getWebSockets()[0]!;
      const s = readState(sock);
      if (s?.phase !== "open") throw new Error("not open");
      const fits = (x: object): boolean => {
        try {
          sock.serializeAttachment(x);
          return true;
        } catch {
          return false;
        }
      };
      // The runtime refuses an attachment past its own limit (16 KiB in this workerd; Cloudflare
      // documents 2,048 bytes): the largest byte array that still fits beside a value measures it.
      const room = (base: object): number => {
        let lo = 0;
        let hi = 1 << 20;
        if (fits({ ...base, pad: new Uint8Array(hi) })) throw new Error("no limit on attachments: nothing measured");
        while (hi - lo > 1) {
          const mid = (lo + hi) >> 1;
          if (fits({ ...base, pad: new Uint8Array(mid) })) lo = mid;
          else hi = mid;
        }
        return lo;
      };
      const size = (x: object): number => EMPTY_OBJECT + room({}) - room(x);
      const fullest = {
        ...s,
        newTokens: 59.123456789,
        newAt: Date.now() + 0.5,
        conns: randomBytes(1400), // ATTACHED_MAX (connEntries.ts): more spills into storage
        spilled: true,
        counts: packCounts(Object.fromEntries(COUNTER_NAMES.map((n) => [n, 2 ** 35 - 1]))),
        countDay: 1_000_000,
        counted: true as const,
      };
      const { counts: _c, ...withoutCounts } = fullest;
      try {
        return { now: size(s), fullest: size(fullest), counts: size(fullest) - size(withoutCounts) };
      } finally {
        sock.serializeAttachment(s);
      }
    });
    // An open connection after a PING: its keys, chain state and counts take a few hundred bytes.
    expect(sizes.now).toBeLessThan(500);
    // The counts at their largest (170 packed bytes) take at most 175 with their field name.
    expect(sizes.counts).toBeLessThanOrEqual(190);
    expect(sizes.fullest).toBeLessThanOrEqual(BUDGET);
    await client.ping();
    client.close();
  });
});
