// Faults inside workerd: the Session and Queue objects lose their memory at each step of
// SEND → MSG → ACK, a connection drops before its ACK, the expiry alarm runs twice, and two
// connections subscribe to one queue at the same moment. After each, every message is still
// delivered, once, in order (a redelivery, with the same msgId, only before its ACK): the
// delivery log of test/helpers/delivery-check.ts says so.
//
// Eviction, the fast way: `evict()` gives an object the in-memory state of a newly constructed
// instance (`new SessionDO(state, env)`, `new QueueDO(state, env)`), which is what the runtime
// builds when the next event wakes an evicted object; caches, counters, the frame chain, all go.
// One test also waits for workerd's own idle eviction of all three objects.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { SMPProtocolError } from "../../src/client/errors.js";
import { ack, createQueue, decryptMessage, register, sendMessage, subscribe, type RecipientQueue } from "../../src/client/queues.js";
import { encodeBatch } from "../../src/protocol/batch.js";
import { encodeCommand, type ClientCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { hex } from "../../src/protocol/encoding.js";
import { encodeClientTransmission, encodeSigned, transmissionForAuth } from "../../src/protocol/transmission.js";
import { makeAuthenticator } from "../../src/crypto/authenticator.js";
import { randomBytes } from "../../src/crypto/random.js";
import { metrics } from "../../src/server/metrics.js";
import { QueueDO } from "../../src/server/queue.js";
import { SessionDO } from "../../src/server/session.js";
import { DeliveryLog, type DeliveryReport } from "../helpers/delivery-check.js";
import { evict, holdQueueReplies, queueObjectOf } from "./objects.js";
import { openWithSession } from "./session-of.js";

const utf8 = new TextEncoder();

// ---- Connections and objects ----

interface Conn {
  client: SMPClient;
  session: DurableObjectStub<SessionDO>;
}

const open: () => Promise<Conn> = openWithSession;



const evictSession = (c: Conn): Promise<void> => evict(c.session, (state) => new SessionDO(state, env));
const evictQueue = (stub: DurableObjectStub<QueueDO>, e: Env = env): Promise<void> => evict(stub, (state) => new QueueDO(state, e));

/**
 * An environment whose Session binding swallows pushes: a Queue object running with it stores a
 * SEND and then "dies" before its push reaches anyone.
 */
function envLosingPushes(): Env {
  const lost = { push: () => new Promise<boolean>(() => {}) };
  const SESSION = { idFromString: (s: string) => env.SESSION.idFromString(s), get: () => lost };
  return { ...env, SESSION } as unknown as Env;
}

// ---- One recipient, one sender, one queue, and the log of what happened ----

interface Delivery {
  /** The sender's sequence number, or "quota" for the relay's quota marker. */
  seq: number | "quota";
  msgId: Uint8Array;
  /** Which connection it arrived on. */
  on: SMPClient;
}

/** Every MSG, END and DELD for the queue, on every connection watched, in arrival order. */
class Inbox {
  readonly msgs: Delivery[] = [];
  readonly ends: SMPClient[] = [];
  private read = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly log: DeliveryLog,
    private readonly q: RecipientQueue,
    readonly name: string,
  ) {}

  /** Starts recording a connection's deliveries for the queue; before its SUB. */
  watch(c: SMPClient): void {
    register(c, this.q);
    c.onPush((p) => {
      if (hex(p.entityId) !== hex(this.q.rcvId)) return;
      if (p.response.tag === "MSG") {
        const m = decryptMessage(this.q, p.response.msgId, p.response.body);
        const seq = m.quota ? "quota" : Number(new TextDecoder().decode(m.body).replace(/^seq:/, ""));
        if (seq !== "quota") this.log.delivered(this.name, seq, hex(p.response.msgId));
        this.msgs.push({ seq, msgId: p.response.msgId, on: c });
      } else if (p.response.tag === "END" || p.response.tag === "DELD") {
        this.ends.push(c);
      } else return;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** The next MSG not read yet; fails after `ms` rather than hanging. */
  async next(ms = 5000): Promise<Delivery> {
    const deadline = Date.now() + ms;
    while (this.msgs.length <= this.read) {
      if (Date.now() > deadline) throw new Error(`${this.name}: no MSG within ${ms} ms (${this.read} read)`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.msgs[this.read++]!;
  }

  /** Waits until `ready()` holds; fails after `ms` saying what was awaited. */
  async until(what: string, ready: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`${this.name}: ${what}: not within ${ms} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** The MSGs that arrived on one connection. */
  on(c: SMPClient): Delivery[] {
    return this.msgs.filter((d) => d.on === c);
  }

  get unread(): number {
    return this.msgs.length - this.read;
  }
}

interface Fixture {
  r: Conn;
  s: Conn;
  q: RecipientQueue;
  stub: DurableObjectStub<QueueDO>;
  log: DeliveryLog;
  inbox: Inbox;
  /** SEND seq (recorded in the log). */
  send(seq: number): Promise<void>;
  /** ACK on the connection that got the message; the ACK's MSG reply, if any, reaches the inbox too. */
  ack(d: Delivery): Promise<"OK" | "MSG">;
  close(): void;
}

let queueCount = 0;

async function fixture(opts: { subscribe?: boolean } = {}): Promise<Fixture> {
  const [r, s] = await Promise.all([open(), open()]);
  const log = new DeliveryLog();
  const q = await createQueue(r.client, { subscribe: false });
  const inbox = new Inbox(log, q, `q${++queueCount}`);
  inbox.watch(r.client);
  if (opts.subscribe ?? true) await subscribe(r.client, q);
  const stub = (await queueObjectOf(q.rcvId)).stub;
  return {
    r,
    s,
    q,
    stub,
    log,
    inbox,
    async send(seq) {
      log.sending(inbox.name, seq);
      try {
        await sendMessage(s.client, q.sndId, utf8.encode(`seq:${seq}`));
        log.sendResult(inbox.name, seq, "ok");
      } catch (e) {
        log.sendResult(inbox.name, seq, e instanceof SMPProtocolError ? "refused" : "uncertain");
        throw e;
      }
    },
    async ack(d) {
      const next = await ack(d.on, q, d.msgId);
      if (d.seq !== "quota") log.acked(inbox.name, d.seq);
      return next === null ? "OK" : "MSG";
    },
    close() {
      for (const c of [r.client, s.client]) if (c.isOpen) c.close();
    },
  };
}

/** Nothing more for the queue: a round trip on the recipient's connection first, for late pushes. */
async function expectQuiet(f: Fixture, c: SMPClient = f.r.client): Promise<void> {
  await c.ping();
  await f.s.client.ping();
  expect(f.inbox.unread).toBe(0);
}

function expectClean(report: DeliveryReport, delivered: number, redelivered = 0): void {
  expect(report.problems).toEqual([]);
  expect({ ok: report.ok, lost: report.lost, delivered: report.delivered, redelivered: report.redelivered }).toEqual({
    ok: true,
    lost: 0,
    delivered,
    redelivered,
  });
}

// ---- Eviction at each step ----

type Who = "queue" | "sessions" | "all";
type Step = "after SEND, before the push" | "after the push, before the ACK" | "after the ACK, before the next SEND";
const STEPS: Step[] = ["after SEND, before the push", "after the push, before the ACK", "after the ACK, before the next SEND"];

async function evictObjects(f: Fixture, who: Who): Promise<void> {
  if (who !== "queue") await Promise.all([evictSession(f.r), evictSession(f.s)]);
  if (who !== "sessions") await evictQueue(f.stub);
}

/**
 * Five messages through SEND → MSG → ACK, the objects evicted at `at` (or at every step).
 * Evicting the Queue object "after SEND, before the push" means its push never went out: the
 * message waits in storage, and the recipient's next SUB (what a client does when it comes
 * back) brings it.
 */
async function sendReceiveAck(who: Who, at: Step | "every"): Promise<void> {
  const f = await fixture();
  const when = (s: Step): boolean => at === s || at === "every";
  try {
    // Message 0: SEND, MSG. The Sessions have no event between the SEND and its push, so
    // evicting them just before the SEND is the same as between the two.
    if (when("after SEND, before the push")) {
      if (who !== "queue") await Promise.all([evictSession(f.r), evictSession(f.s)]);
      if (who !== "sessions") {
        await evictQueue(f.stub, envLosingPushes());
        await f.send(0);
        await evictQueue(f.stub);
        await expectQuiet(f);
        await subscribe(f.r.client, f.q);
      } else await f.send(0);
    } else await f.send(0);
    const d0 = await f.inbox.next();
    expect(d0.seq).toBe(0);

    // Message 1 waits behind 0; the ACK of 0 brings it.
    await f.send(1);
    if (when("after the push, before the ACK")) await evictObjects(f, who);
    expect(await f.ack(d0)).toBe("MSG");
    const d1 = await f.inbox.next();
    expect(d1.seq).toBe(1);
    expect(await f.ack(d1)).toBe("OK");

    // The queue is empty: the next SEND is pushed.
    if (when("after the ACK, before the next SEND")) await evictObjects(f, who);
    await f.send(2);
    const d2 = await f.inbox.next();
    expect(d2.seq).toBe(2);
    await f.send(3);
    await f.send(4);
    expect(await f.ack(d2)).toBe("MSG");
    const d3 = await f.inbox.next();
    expect(await f.ack(d3)).toBe("MSG");
    const d4 = await f.inbox.next();
    expect([d3.seq, d4.seq]).toEqual([3, 4]);
    expect(await f.ack(d4)).toBe("OK");
    await expectQuiet(f);
    expectClean(f.log.report(), 5);
  } finally {
    f.close();
  }
}

describe("evicting the objects at each step of SEND → MSG → ACK", () => {
  for (const who of ["queue", "sessions", "all"] as const) {
    const whom = who === "queue" ? "the Queue object" : who === "sessions" ? "both Session objects" : "the Queue and both Session objects";
    for (const step of STEPS) {
      it(`${whom}, ${step}`, () => sendReceiveAck(who, step));
    }
    it(`${whom}, at every step`, () => sendReceiveAck(who, "every"));
  }

  it("a push lost with its Queue object: the message waits in storage, later SENDs queue behind it, the next SUB brings them in order", async () => {
    const f = await fixture();
    try {
      await evictQueue(f.stub, envLosingPushes());
      await f.send(0);
      await evictQueue(f.stub);
      await f.send(1);
      await f.send(2);
      await subscribe(f.r.client, f.q);
      // Drain through ACKs; a repeat of an unacknowledged message (same msgId) would be allowed.
      let d = await f.inbox.next();
      for (;;) {
        const r = await f.ack(d);
        if (r === "OK" && f.log.outstanding() === 0) break;
        d = await f.inbox.next();
      }
      await expectQuiet(f);
      const report = f.log.report();
      expect(report.problems).toEqual([]);
      expect({ ok: report.ok, delivered: report.delivered, lost: report.lost }).toEqual({ ok: true, delivered: 3, lost: 0 });
    } finally {
      f.close();
    }
  });

  it("workerd's own idle eviction of the Queue and both Session objects, between an ACK and the next SEND", async () => {
    const f = await fixture();
    try {
      await f.send(0);
      const d0 = await f.inbox.next();
      await f.send(1);
      expect(await f.ack(d0)).toBe("MSG");
      const d1 = await f.inbox.next();
      expect(await f.ack(d1)).toBe("OK");

      const stubs = [f.stub, f.r.session, f.s.session] as DurableObjectStub<Rpc.DurableObjectBranded>[];
      const before = await Promise.all(stubs.map((s) => runInDurableObject(s, (instance) => instance)));
      // workerd evicts an object after 10 s without events; the sockets stay open (hibernated).
      await new Promise((r) => setTimeout(r, 11_500));
      const after = await Promise.all(stubs.map((s) => runInDurableObject(s, (instance) => instance)));
      after.forEach((instance, i) => expect(instance).not.toBe(before[i]));

      // The empty queue's next SEND is pushed through the woken recipient Session.
      await f.send(2);
      const d2 = await f.inbox.next();
      await f.send(3);
      expect(await f.ack(d2)).toBe("MSG");
      const d3 = await f.inbox.next();
      expect([d0, d1, d2, d3].map((d) => d.seq)).toEqual([0, 1, 2, 3]);
      expect(await f.ack(d3)).toBe("OK");
      await expectQuiet(f);
      expectClean(f.log.report(), 4);
    } finally {
      f.close();
    }
  });
});

// ---- A connection that drops before its ACK ----

describe("a connection dropped before its ACK", () => {
  it("the next subscriber gets the unacknowledged message again, same msgId, then the rest in order", async () => {
    const f = await fixture();
    try {
      await f.send(0);
      const d0 = await f.inbox.next();
      await f.send(1);
      f.r.client.close();
      await f.r.client.closed;
      // Sent while nobody is connected: the push finds the socket gone and the queue forgets it.
      await f.send(2);

      const again = await open();
      f.inbox.watch(again.client);
      await subscribe(again.client, f.q);
      const r0 = await f.inbox.next();
      expect(r0.seq).toBe(0);
      expect(r0.msgId).toEqual(d0.msgId);
      expect(r0.on).toBe(again.client);
      expect(await f.ack(r0)).toBe("MSG");
      const r1 = await f.inbox.next();
      expect(await f.ack(r1)).toBe("MSG");
      const r2 = await f.inbox.next();
      expect([r1.seq, r2.seq]).toEqual([1, 2]);
      expect(await f.ack(r2)).toBe("OK");
      await expectQuiet(f, again.client);
      expectClean(f.log.report(), 3, 1);
      again.client.close();
    } finally {
      f.close();
    }
  });

  it("an ACK cut off by the close either counted or not: what comes next is consistent", async () => {
    for (let round = 0; round < 5; round++) {
      const f = await fixture();
      try {
        await f.send(0);
        const d0 = await f.inbox.next();
        await f.send(1);
        // The ACK goes out and the connection closes without waiting for its reply.
        const cut = ack(f.r.client, f.q, d0.msgId).catch(() => null);
        f.r.client.close();
        await cut;

        const again = await open();
        f.inbox.watch(again.client);
        await subscribe(again.client, f.q);
        let d = await f.inbox.next();
        // Either 0 again (the ACK was not handled), same msgId, or 1 (it was).
        if (d.seq === 0) {
          expect(d.msgId).toEqual(d0.msgId);
          expect(await f.ack(d)).toBe("MSG");
          d = await f.inbox.next();
        }
        expect(d.seq).toBe(1);
        expect(await f.ack(d)).toBe("OK");
        await expectQuiet(f, again.client);
        const report = f.log.report();
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
        expect(report.delivered).toBe(2);
        again.client.close();
      } finally {
        f.close();
      }
    }
  });
});

// ---- The expiry alarm, twice ----

interface Stored {
  rows: { seq: number; quota: number; expires: number }[];
  alarm: number | null;
  canWrite: number;
}

const stored = (stub: DurableObjectStub<QueueDO>): Promise<Stored> =>
  runInDurableObject(stub, async (_i, state) => ({
    rows: state.storage.sql.exec<{ seq: number; quota: number; expires: number }>("SELECT seq, quota, expires FROM msg ORDER BY seq").toArray(),
    alarm: await state.storage.getAlarm(),
    canWrite: state.storage.sql.exec<{ c: number }>("SELECT can_write AS c FROM queue").one().c,
  }));

describe("the expiry alarm run twice", () => {
  it("deletes only what expired, once; keeps one quota marker; re-arms at the next expiry each time", async () => {
    const f = await fixture({ subscribe: false });
    try {
      const quota = Number(env.QUEUE_QUOTA ?? 128);
      // Fill the queue to its quota, then one more SEND: ERR QUOTA and the marker.
      await Promise.all(Array.from({ length: quota }, (_, i) => f.send(i)));
      await expect(f.send(quota)).rejects.toMatchObject({ code: "QUOTA" });
      await expect(f.send(quota + 1)).rejects.toMatchObject({ code: "QUOTA" });
      const full = await stored(f.stub);
      expect(full.rows).toHaveLength(quota + 1);
      expect(full.rows.filter((r) => r.quota === 1)).toHaveLength(1);
      expect(full.canWrite).toBe(0);

      // The first ten messages have expired.
      const past = Date.now() - 1000;
      await runInDurableObject(f.stub, (_i, state) => {
        state.storage.sql.exec("UPDATE msg SET expires = ? WHERE seq <= (SELECT MIN(seq) + 9 FROM msg)", past);
      });
      const expired = Array.from({ length: 10 }, (_, i) => i);
      const next = full.rows[10]!.expires;

      expect(await runDurableObjectAlarm(f.stub)).toBe(true);
      const once = await stored(f.stub);
      expect(once.rows.map((r) => r.seq)).toEqual(full.rows.slice(10).map((r) => r.seq));
      expect(once.alarm).toBe(next);
      // Again through the runtime: the alarm is armed, so it runs (early), and deletes nothing.
      expect(await runDurableObjectAlarm(f.stub)).toBe(true);
      // And again by hand, on a freshly woken instance as well as on the live one.
      await evictQueue(f.stub);
      await runInDurableObject(f.stub, (instance) => instance.alarm());
      await runInDurableObject(f.stub, (instance) => instance.alarm());
      const thrice = await stored(f.stub);
      expect(thrice).toEqual(once);
      expect(thrice.rows.filter((r) => r.quota === 1)).toHaveLength(1);

      // Still over quota until the recipient drains the queue: no second marker.
      await expect(f.send(quota + 2)).rejects.toMatchObject({ code: "QUOTA" });
      expect((await stored(f.stub)).rows.filter((r) => r.quota === 1)).toHaveLength(1);

      // Drain: every unexpired message once, in order, then the marker.
      for (const seq of expired) f.log.expired(f.inbox.name, seq);
      await subscribe(f.r.client, f.q);
      const got: Delivery[] = [await f.inbox.next()];
      while ((await f.ack(got[got.length - 1]!)) === "MSG") got.push(await f.inbox.next());
      expect(got.map((d) => d.seq)).toEqual([...Array.from({ length: quota - 10 }, (_, i) => i + 10), "quota"]);
      await expectQuiet(f);
      expectClean(f.log.report(), quota - 10);

      // Empty again. As upstream (writeMsg: `canWrite || empty`), the quota flag stays down
      // until the next SEND finds the queue empty. The alarm still armed for the drained
      // messages runs, finds nothing, and is not armed again; running it once more (by hand)
      // changes nothing.
      expect(await stored(f.stub)).toMatchObject({ rows: [], canWrite: 0 });
      expect(await runDurableObjectAlarm(f.stub)).toBe(true);
      expect(await stored(f.stub)).toEqual({ rows: [], alarm: null, canWrite: 0 });
      expect(await runDurableObjectAlarm(f.stub)).toBe(false);
      await runInDurableObject(f.stub, (instance) => instance.alarm());
      expect(await stored(f.stub)).toEqual({ rows: [], alarm: null, canWrite: 0 });
      await f.send(quota + 3);
      const armed = await stored(f.stub);
      expect(armed.canWrite).toBe(1);
      expect(armed.rows).toHaveLength(1);
      expect(armed.alarm).toBe(armed.rows[0]!.expires);
    } finally {
      f.close();
    }
  });
});

// ---- Two SUBs at the same moment ----

const subscriberOf = (stub: DurableObjectStub<QueueDO>): Promise<string | null> =>
  runInDurableObject(stub, (_i, state) => state.storage.sql.exec<{ s: string | null }>("SELECT subscriber AS s FROM queue").one().s);

describe("two connections subscribing at the same moment", () => {
  for (const before of ["nobody", "a third connection"] as const) {
    it(`one ends up the subscriber, the other gets END, the winner gets the pending message (subscribed before: ${before})`, async () => {
      for (let round = 0; round < 8; round++) {
        const f = await fixture({ subscribe: before !== "nobody" });
        const [a, b] = await Promise.all([open(), open()]);
        try {
          f.inbox.watch(a.client);
          f.inbox.watch(b.client);
          await f.send(0);
          await f.send(1);
          if (before !== "nobody") await f.inbox.until("the first subscriber's MSG", () => f.inbox.on(f.r.client).length === 1);

          await Promise.all([subscribe(a.client, f.q), subscribe(b.client, f.q)]);
          const subscriber = await subscriberOf(f.stub);
          expect([a.session.id.toString(), b.session.id.toString()]).toContain(subscriber);
          const [winner, loser] = subscriber === a.session.id.toString() ? [a, b] : [b, a];
          // The loser learns it lost (END), as does the connection subscribed before.
          await f.inbox.until("END to the losing connection", () => f.inbox.ends.includes(loser.client));
          if (before !== "nobody") await f.inbox.until("END to the earlier subscriber", () => f.inbox.ends.includes(f.r.client));
          expect(f.inbox.ends.filter((c) => c === winner.client)).toEqual([]);
          // The pending message reaches the winner, with the one msgId it has everywhere.
          await f.inbox.until("MSG to the winner", () => f.inbox.on(winner.client).length === 1);
          const [d0] = f.inbox.on(winner.client);
          expect(d0!.seq).toBe(0);
          for (const d of f.inbox.msgs) expect(d.msgId).toEqual(d0!.msgId);
          // Only the winner may acknowledge it.
          await expect(ack(loser.client, f.q, d0!.msgId)).rejects.toMatchObject({ code: "NO_MSG" });
          await expect(ack(f.r.client, f.q, d0!.msgId)).rejects.toMatchObject({ code: "NO_MSG" });
          expect(await f.ack(d0!)).toBe("MSG");
          await f.inbox.until("message 1 to the winner", () => f.inbox.on(winner.client).length === 2);
          const d1 = f.inbox.on(winner.client)[1]!;
          expect(d1.seq).toBe(1);
          expect(await f.ack(d1)).toBe("OK");
          for (const c of [winner.client, loser.client]) await c.ping();
          expect(f.inbox.on(loser.client).every((d) => d.seq === 0)).toBe(true);
          const report = f.log.report();
          expect(report.problems).toEqual([]);
          expect({ ok: report.ok, delivered: report.delivered, lost: report.lost }).toEqual({ ok: true, delivered: 2, lost: 0 });
        } finally {
          a.client.close();
          b.client.close();
          f.close();
        }
      }
    });
  }
});

/** Recipient commands sent together in one block (the client library would split them). */
async function oneBlock(c: SMPClient, cmds: { q: RecipientQueue; cmd: ClientCommand }[]): Promise<Promise<ServerResponse>[]> {
  const items: Uint8Array[] = [];
  const replies: Promise<ServerResponse>[] = [];
  for (const { q, cmd } of cmds) {
    const corrId = randomBytes(24);
    const signed = encodeSigned(corrId, q.rcvId, encodeCommand(cmd));
    const auth = await makeAuthenticator(c.serverSessionKey, q.rcvAuthKey.privateKey, corrId, transmissionForAuth(c.sessionId, signed));
    items.push(encodeClientTransmission(auth, signed));
    replies.push(c.expectReply(corrId));
  }
  c.sendFrame(c.sealBlock(encodeBatch(items)));
  return replies;
}

/** While set, DEL on a queue prepared by `slowDelete` waits. */
let holding = false;

/** Makes DEL on this queue wait for `holding` to clear before it deletes anything. */
async function slowDelete(stub: DurableObjectStub<QueueDO>): Promise<void> {
  holding = true;
  await runInDurableObject(stub, (instance, state) => {
    const forward = <T extends object>(target: T, key: string | symbol): unknown => {
      const v = Reflect.get(target, key) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    };
    const storage = new Proxy(state.storage, {
      get: (t, k) =>
        k === "deleteAll"
          ? async () => {
              while (holding) await new Promise((r) => setTimeout(r, 5));
              return t.deleteAll();
            }
          : forward(t, k),
    });
    (instance as unknown as { ctx: DurableObjectState }).ctx = new Proxy(state, { get: (t, k) => (k === "storage" ? storage : forward(t, k)) });
  });
}


/** Session push calls counted from the moment `countPushes` was called (the relay's own counter). */
let pushBase = 0;

/**
 * Starts counting push calls into Session objects. The relay counts a push on arrival, before
 * the Session waits for the block it is handling; in these tests only A receives pushes.
 */
async function countPushes(_c: Conn): Promise<void> {
  pushBase = metrics.rpc.sessionPush;
}

const pushesSince = (): number => metrics.rpc.sessionPush - pushBase;

/** Waits until the queue's stored subscriber is this connection's Session. */
async function untilSubscriber(stub: DurableObjectStub<QueueDO>, c: Conn): Promise<void> {
  for (let i = 0; i < 200 && (await subscriberOf(stub)) !== c.session.id.toString(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(await subscriberOf(stub)).toBe(c.session.id.toString());
}

describe("a takeover racing the first SUB's reply", () => {
  // Both orders below are ones the network can produce between objects; in both, the first
  // connection must end up knowing it is no longer subscribed (END after its SOK).

  it("the first SUB's reply is still on its way when the second SUB ends it: END still reaches the first connection, after its SOK", async () => {
    const f = await fixture({ subscribe: false });
    const [a, b] = await Promise.all([open(), open()]);
    let replies: { release(): void } | undefined;
    try {
      f.inbox.watch(a.client);
      f.inbox.watch(b.client);
      await f.send(0);
      const timeline: string[] = [];
      a.client.onPush((p) => {
        if (p.response.tag === "END") timeline.push("END");
      });
      replies = await holdQueueReplies(a.session);
      await countPushes(a);
      const subA = subscribe(a.client, f.q).then(() => timeline.push("SOK"));
      await untilSubscriber(f.stub, a);
      await subscribe(b.client, f.q);
      // The takeover's END reaches A's Session before the reply to A's SUB does.
      await f.inbox.until("the END push at A's Session", () => pushesSince() === 1);
      replies.release();
      await subA;
      await a.client.ping();

      expect(await subscriberOf(f.stub)).toBe(b.session.id.toString());
      // Only B can acknowledge the message.
      const d0 = f.inbox.on(b.client)[0]!;
      await expect(ack(a.client, f.q, d0.msgId)).rejects.toMatchObject({ code: "NO_MSG" });
      expect(await f.ack(d0)).toBe("OK");
      // And A must know it lost the queue: the last word it had about it is END.
      expect(timeline).toEqual(["SOK", "END"]);
    } finally {
      replies?.release();
      a.client.close();
      b.client.close();
      f.close();
    }
  });

  it("the first SUB's block is still running (another command in it waits) when the second SUB ends it: END comes after its SOK", async () => {
    const f = await fixture({ subscribe: false });
    const [a, b] = await Promise.all([open(), open()]);
    try {
      f.inbox.watch(a.client);
      f.inbox.watch(b.client);
      await f.send(0);
      // Another queue of A's, whose DEL will take its time.
      const slow = await createQueue(a.client, { subscribe: false });
      await slowDelete((await queueObjectOf(slow.rcvId)).stub);

      // A's block: SUB (answered at once) and DEL of the slow queue (waits).
      const timeline: string[] = [];
      a.client.onPush((p) => {
        if (p.response.tag === "END") timeline.push("END");
      });
      await countPushes(a);
      const [sub, del] = await oneBlock(a.client, [
        { q: f.q, cmd: { tag: "SUB" } },
        { q: slow, cmd: { tag: "DEL" } },
      ]);
      const subDone = sub!.then((r) => timeline.push(r.tag));
      await untilSubscriber(f.stub, a);

      // B takes the queue over meanwhile; its END reaches A's Session while A's block still runs.
      await subscribe(b.client, f.q);
      await f.inbox.until("the END push at A's Session", () => pushesSince() === 1);
      holding = false;
      expect((await del!).tag).toBe("OK");
      await subDone;
      await a.client.ping();

      expect(await subscriberOf(f.stub)).toBe(b.session.id.toString());
      expect(timeline).toEqual(["SOK", "END"]);
    } finally {
      holding = false;
      a.client.close();
      b.client.close();
      f.close();
    }
  });
});
