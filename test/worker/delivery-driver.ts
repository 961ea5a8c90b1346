// The driver side of delivery-model.test.ts: connections whose every reply and push is recorded
// in arrival order (per queue), the queues under test, and the check of one step against what the
// model (delivery-model.ts) says each connection must receive.
//
// Connections are delivery-conn.ts's TestConn: every transmission recorded in arrival order, with
// its corrId, so the reply of each command is known for what it is and "the reply, then the push
// it caused" is checked as it arrived.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { decryptMessage, parseQueueInfo } from "../../src/client/queues.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519, x25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import { base64 } from "../../src/protocol/base64.js";
import type { ClientCommand, ServerResponse } from "../../src/protocol/commands.js";
import { hex } from "../../src/protocol/encoding.js";
import { metrics } from "../../src/server/metrics.js";
import { QueueDO } from "../../src/server/queue.js";
import { SessionDO } from "../../src/server/session.js";
import { DeliveryLog } from "../helpers/delivery-check.js";
import { TestConn } from "./delivery-conn.js";
import type { Label, Outcome } from "./delivery-model.js";
import { evict, queueObjectOf } from "./objects.js";

/** QUEUE_QUOTA for the test's queues: small, so ERR QUOTA and the marker come up in short runs. */
export const TEST_QUOTA = 3;
/** The Queue objects run with this environment (installed right after NEW and at each eviction). */
const quotaEnv = { ...env, QUEUE_QUOTA: String(TEST_QUOTA) } as Env;
/** How long a step waits for a reply or push the model expects before calling it missing. */
const WAIT_MS = 4000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(ready: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

// ---- Events ----

/** One reply or push, as the connection received it. */
export interface Ev {
  kind: "reply" | "push";
  /** Queue slot; -1 for an entity that is none of the test's queues. */
  queue: number;
  tag: string;
  code?: string;
  /** For MSG: msgId (hex) and the SEND's sequence number (null: a quota marker). */
  msg?: { id: string; seq: number | null } | { id: string; undecryptable: string };
}

/** One reply or push the model expects. */
export interface ExpEv {
  kind: "reply" | "push";
  queue: number;
  tag: string;
  code?: string;
  label?: Label;
}

/** Expected events per connection slot, each with its accepted variants. */
export type Expectation = Map<number, ExpEv[][]>;

/** The expected events of commands' outcomes, in the order given (reply, then pushes, per command). */
export function expectationOf(parts: { conn: number; qi: number; o: Outcome; replied: boolean }[], skip: Set<number> = new Set()): Map<number, ExpEv[]> {
  const out = new Map<number, ExpEv[]>();
  const add = (slot: number, e: ExpEv): void => {
    if (skip.has(slot)) return;
    out.set(slot, [...(out.get(slot) ?? []), e]);
  };
  for (const { conn, qi, o, replied } of parts) {
    if (replied) {
      const r = o.reply;
      add(conn, { kind: "reply", queue: qi, tag: r.tag, ...(r.tag === "ERR" ? { code: r.code } : {}), ...(r.tag === "MSG" ? { label: r.label } : {}) });
    }
    for (const p of o.pushes) add(p.to, { kind: "push", queue: p.queue, tag: p.body.tag, ...(p.body.tag === "MSG" ? { label: p.body.label } : {}) });
  }
  return out;
}

export const single = (m: Map<number, ExpEv[]>): Expectation => new Map([...m].map(([k, v]) => [k, [v]]));

// ---- Queues and msgId bindings ----

export interface TestQueue {
  name: string;
  rcvId: Uint8Array;
  sndId: Uint8Array;
  /** Authorizes the recipient's commands. */
  rcvKey: X25519KeyPair;
  /** Opens delivered messages (WIRE.md 7). */
  dhSecret: Uint8Array;
  stub: DurableObjectStub<QueueDO>;
  /** Sender keys by name, for KEY and signed SENDs. */
  keys: Record<string, X25519KeyPair>;
}

/** Which msgId each label got: one msgId per message, one message per msgId. */
class Bindings {
  constructor(
    readonly byLabel = new Map<string, string>(),
    readonly byId = new Map<string, string>(),
  ) {}
  copy(): Bindings {
    return new Bindings(new Map(this.byLabel), new Map(this.byId));
  }
  bind(qi: number, label: Label, id: string): boolean {
    const l = this.byLabel.get(`${qi}/${label}`);
    const i = this.byId.get(`${qi}/${id}`);
    if (l === undefined && i === undefined) {
      this.byLabel.set(`${qi}/${label}`, id);
      this.byId.set(`${qi}/${id}`, label);
      return true;
    }
    return l === id && i === label;
  }
  id(qi: number, label: Label): string | undefined {
    return this.byLabel.get(`${qi}/${label}`);
  }
  label(qi: number, id: string): string | undefined {
    return this.byId.get(`${qi}/${id}`);
  }
}

// ---- Connections ----

export class Conn {
  readonly events: Ev[] = [];
  private read = 0;
  /** corrIds (hex) of the commands whose replies are recorded, with their queue slot. */
  readonly corr = new Map<string, number>();

  constructor(
    readonly tc: TestConn,
    readonly session: DurableObjectStub<SessionDO>,
    private readonly world: World,
  ) {
    tc.onReceive((r) => {
      if (r.corrId === "") this.record("push", world.queues.findIndex((q) => hex(q.rcvId) === r.entityId), r.response);
      else if (this.corr.has(r.corrId)) this.record("reply", this.corr.get(r.corrId)!, r.response);
    });
  }

  private record(kind: Ev["kind"], qi: number, r: ServerResponse): void {
    const ev: Ev = { kind, queue: qi, tag: r.tag };
    if (r.tag === "ERR") ev.code = r.code;
    if (r.tag === "MSG") {
      const id = hex(r.msgId);
      const q = this.world.queues[qi];
      try {
        if (!q) throw new Error("unknown queue");
        const m = decryptMessage(q, r.msgId, r.body);
        const seq = m.quota ? null : Number(/^seq:(\d+)/.exec(new TextDecoder().decode(m.body.subarray(0, 24)))?.[1] ?? NaN);
        ev.msg = { id, seq };
        if (seq !== null) this.world.log.delivered(q.name, seq, id);
      } catch (e) {
        ev.msg = { id, undecryptable: (e as Error).message };
      }
    }
    this.events.push(ev);
  }

  /** Events not taken yet. */
  get unread(): number {
    return this.events.length - this.read;
  }

  take(): Ev[] {
    const e = this.events.slice(this.read);
    this.read = this.events.length;
    return e;
  }
}

// ---- The world: connections in slots, queues, the delivery log ----

export class World {
  conns: Conn[] = [];
  readonly queues: TestQueue[] = [];
  readonly log = new DeliveryLog();
  /** Session objects of connections closed so far: none may keep storage. */
  readonly closed: DurableObjectStub<SessionDO>[] = [];
  readonly bindings = new Bindings();
  /** What happened so far, for failure reports. */
  readonly trace: string[] = [];
  private seq = 0;
  private static runs = 0;
  readonly run = ++World.runs;

  nextSeq(): number {
    return this.seq++;
  }

  async openConn(slot: number): Promise<Conn> {
    const { conn, session } = await TestConn.open();
    const c = new Conn(conn, session, this);
    this.conns[slot] = c;
    return c;
  }

  /** NEW from `conn` (subMode "S" when subscribing), then the small quota on the new Queue object. */
  async addQueue(conn: number, subscribe: boolean): Promise<void> {
    const qi = this.queues.length;
    const tc = this.conns[conn]!.tc;
    const [rcvKey, dhKey, k1, k2] = await Promise.all([generateX25519(), generateX25519(), generateX25519(), generateX25519()]);
    const corrId = randomBytes(24);
    const cmd: ClientCommand = {
      tag: "NEW",
      rcvAuthKey: encodePublicKey({ alg: "x25519", raw: rcvKey.publicKey }),
      rcvDhKey: encodePublicKey({ alg: "x25519", raw: dhKey.publicKey }),
      basicAuth: null,
      subscribe,
      queueReqData: { mode: "M", link: null },
      ntfCreds: null,
    };
    const r = await tc.request(corrId, await tc.transmission(corrId, new Uint8Array(0), cmd, rcvKey.privateKey));
    if (r.tag !== "IDS") throw new Error(`NEW: ${r.tag === "ERR" ? `ERR ${r.code}` : r.tag}`);
    const { stub } = await queueObjectOf(r.rcvId);
    const dhSecret = await x25519(dhKey.privateKey, r.srvDhKey.subarray(12));
    this.queues.push({ name: `run${this.run}/q${qi}`, rcvId: r.rcvId, sndId: r.sndId, rcvKey, dhSecret, stub, keys: { k1, k2 } });
    await this.evictQueue(qi);
  }

  live(): Conn[] {
    return this.conns.filter((c) => c.tc.isOpen);
  }

  /** A command's transmission, authorized with the recipient key, a sender key, or nothing. */
  async transmission(c: Conn, qi: number, cmd: ClientCommand, auth: "rcv" | "none" | { sender: string }, corrId: Uint8Array): Promise<Uint8Array> {
    const q = this.queues[qi]!;
    const entity = cmd.tag === "SEND" ? q.sndId : q.rcvId;
    const key = auth === "rcv" ? q.rcvKey.privateKey : auth === "none" ? null : q.keys[auth.sender]!.privateKey;
    return c.tc.transmission(corrId, entity, cmd, key);
  }

  /** Sends one command on slot `slot`; its reply is recorded (unless `record` is false). */
  async request(slot: number, qi: number, cmd: ClientCommand, auth: "rcv" | "none" | { sender: string } = "rcv", record = true): Promise<ServerResponse> {
    const c = this.conns[slot]!;
    const corrId = randomBytes(24);
    if (record) c.corr.set(hex(corrId), qi);
    return c.tc.request(corrId, await this.transmission(c, qi, cmd, auth, corrId));
  }

  senderKeyDer(qi: number, name: string): Uint8Array {
    return encodePublicKey({ alg: "x25519", raw: this.queues[qi]!.keys[name]!.publicKey });
  }

  msgId(qi: number, label: Label): Uint8Array | null {
    const id = this.bindings.id(qi, label);
    return id === undefined ? null : Uint8Array.from(id.match(/../g)!.map((h) => parseInt(h, 16)));
  }

  /**
   * No more traffic in flight: a PING round trip on every open connection until neither Queue
   * calls nor Session pushes were counted during one (a push in flight is counted on arrival,
   * before it is written to its socket; the PING's reply comes after that).
   */
  async settle(): Promise<void> {
    const count = (): number => metrics.rpc.sessionPush + metrics.rpc.queueCall;
    let last = count();
    for (let i = 0; i < 8; i++) {
      await Promise.all(this.live().map((c) => c.tc.ping()));
      const now = count();
      if (now === last && i >= 1) return;
      last = now;
    }
  }

  /**
   * Waits for what one of the alternatives expects, then for quiet, and checks every
   * connection received exactly that. Returns the index of the alternative that matched (and
   * that `accept` accepted); throws, with what was expected and what came, if none did.
   */
  async observe(what: string, alternatives: Expectation[], accept: (i: number) => boolean = () => true): Promise<number> {
    const least = (slot: number): number => Math.min(...alternatives.map((a) => Math.min(...(a.get(slot) ?? [[]]).map((v) => v.length))));
    await until(() => this.conns.every((c, slot) => !c.tc.isOpen || c.unread >= least(slot)), WAIT_MS);
    await this.settle();
    const got = this.conns.map((c) => c.take());
    for (let i = 0; i < alternatives.length; i++) {
      const b = this.bindings.copy();
      const ok = this.conns.every((_, slot) => (alternatives[i]!.get(slot) ?? [[]]).some((v) => matches(v, got[slot]!, b)));
      if (ok && accept(i)) {
        for (const [k, v] of b.byLabel) this.bindings.byLabel.set(k, v);
        for (const [k, v] of b.byId) this.bindings.byId.set(k, v);
        return i;
      }
    }
    const show = (evs: (Ev | ExpEv)[]): string => `[${evs.map((e) => this.render(e)).join(", ")}]`;
    const lines = [`${what}: the relay's replies and pushes differ from the model's`];
    alternatives.forEach((a, i) => {
      if (alternatives.length > 1) lines.push(`  alternative ${i}:`);
      this.conns.forEach((_, slot) => lines.push(`    c${slot} expected ${(a.get(slot) ?? [[]]).map(show).join(" or ")}`));
    });
    this.conns.forEach((_, slot) => lines.push(`    c${slot} got      ${show(got[slot]!)}`));
    throw new Error(lines.join("\n"));
  }

  render(e: Ev | ExpEv): string {
    const q = e.queue < 0 ? "q?" : `q${e.queue}`;
    let what = e.tag;
    if (e.code) what += ` ${e.code}`;
    if ("label" in e && e.label) what += ` ${e.label}`;
    if ("msg" in e && e.msg) {
      const m = e.msg;
      const bound = this.bindings.label(e.queue, m.id);
      if ("undecryptable" in m) what += ` (undecryptable: ${m.undecryptable})`;
      else if (m.seq !== null) what += ` m${m.seq}${bound !== undefined && bound !== `m${m.seq}` ? `(msgId of ${bound})` : ""}`;
      else what += ` ${bound ?? `Q?${m.id.slice(0, 6)}`}`;
    }
    return `${q} ${e.kind === "push" ? "push " : ""}${what}`;
  }

  // ---- Objects: eviction, expiry, storage ----

  evictSession(slot: number): Promise<void> {
    return evict(this.conns[slot]!.session, (state) => new SessionDO(state, env));
  }

  evictQueue(qi: number): Promise<void> {
    return evict(this.queues[qi]!.stub, (state) => new QueueDO(state, quotaEnv));
  }

  /** After a natural eviction the object would run with the default quota: put ours back. */
  async keepQuota(qi: number): Promise<void> {
    const quota = await runInDurableObject(this.queues[qi]!.stub, (i) => (i as unknown as { env: Env }).env.QUEUE_QUOTA);
    if (quota !== String(TEST_QUOTA)) await this.evictQueue(qi);
  }

  /**
   * The oldest `count` unexpired rows (a quota marker among them, if reached) get an expiry in
   * the past (msg.expires, in ms); then the Queue object's alarm runs, or not (a later read must
   * drop them). Returns how many unexpired messages, markers aside, storage held before.
   */
  async expire(qi: number, count: number, alarm: boolean): Promise<number> {
    const held = await runInDurableObject(this.queues[qi]!.stub, (_i, state) => {
      const now = Date.now();
      const n = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM msg WHERE expires > ? AND quota = 0", now).one().n;
      state.storage.sql.exec("UPDATE msg SET expires = ? WHERE seq IN (SELECT seq FROM msg WHERE expires > ? ORDER BY seq LIMIT ?)", now - 1000, now, count);
      return n;
    });
    if (alarm) await runDurableObjectAlarm(this.queues[qi]!.stub);
    return held;
  }

  /** QUE from slot `slot` (not recorded): the queue's size and head msgId (hex), as the relay says. */
  async que(slot: number, qi: number): Promise<{ size: number; head: string | null }> {
    const r = await this.request(slot, qi, { tag: "QUE" }, "rcv", false);
    if (r.tag !== "INFO") throw new Error(`QUE on q${qi}: ${r.tag === "ERR" ? `ERR ${r.code}` : r.tag}`);
    const info = parseQueueInfo(r.json);
    return { size: info.qiSize, head: info.qiMsg ? hex(base64.decode(info.qiMsg.msgId)) : null };
  }

  /**
   * Closes slot `slot` `delay` ms after putting `inflight` (a command's transmission) on the
   * wire, in its own block (0: in the same turn), waits until its Session object is quiet and
   * holds no storage, and puts a fresh connection in the slot.
   */
  async closeMidBlock(slot: number, inflight: { qi: number; cmd: ClientCommand; auth: "rcv" | "none" | { sender: string } } | null, delay = 0): Promise<void> {
    const c = this.conns[slot]!;
    if (inflight) {
      const t = await this.transmission(c, inflight.qi, inflight.cmd, inflight.auth, randomBytes(24));
      c.tc.sendBlock([t]);
      if (delay > 0) await sleep(delay);
    }
    c.tc.close();
    this.closed.push(c.session);
    await quiet(c.session);
    await expectNoStorage(c.session, `c${slot}'s Session object, after its socket closed`);
    await this.openConn(slot);
  }

  async closeAll(): Promise<void> {
    for (const c of this.conns) {
      if (c.tc.isOpen) {
        c.tc.close();
        this.closed.push(c.session);
      }
    }
  }

  /** Every Session object whose socket closed is empty (the close has settled). */
  async checkClosedStorage(): Promise<void> {
    for (const s of this.closed) await quiet(s);
    for (const s of this.closed) await expectNoStorage(s, "a closed connection's Session object");
  }
}

/** Does `got` equal `expected`? Binds msgIds to labels in `b` as it goes. */
function matches(expected: ExpEv[], got: Ev[], b: Bindings): boolean {
  if (expected.length !== got.length) return false;
  return expected.every((e, i) => {
    const g = got[i]!;
    if (e.kind !== g.kind || e.queue !== g.queue || e.tag !== g.tag || e.code !== g.code) return false;
    if (e.tag !== "MSG") return true;
    if (!g.msg || "undecryptable" in g.msg || !e.label) return false;
    if (g.msg.seq === null ? !e.label.startsWith("Q") : e.label !== `m${g.msg.seq}`) return false;
    return b.bind(e.queue, e.label, g.msg.id);
  });
}


/**
 * Until the Session object has nothing in flight: its frame chain (when it has one, `tail`) has
 * run out and no Queue call or push was counted for 45 ms. Bounded (2 s).
 */
async function quiet(stub: DurableObjectStub<SessionDO>): Promise<void> {
  const deadline = Date.now() + 2000;
  await Promise.race([
    runInDurableObject(stub, async (i) => {
      await (i as unknown as { tail?: Promise<void> }).tail;
    }),
    sleep(1000),
  ]);
  const count = (): number => metrics.rpc.sessionPush + metrics.rpc.queueCall + metrics.wsMessagesIn;
  let last = count();
  let still = 0;
  while (still < 3 && Date.now() < deadline) {
    await sleep(15);
    const now = count();
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

async function storageOf(stub: DurableObjectStub<SessionDO>): Promise<string[]> {
  return runInDurableObject(stub, (_i, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master")
      .toArray()
      .map((r) => r.name),
  );
}

async function expectNoStorage(stub: DurableObjectStub<SessionDO>, what: string): Promise<void> {
  let names: string[] = [];
  const deadline = Date.now() + 2000;
  while ((names = await storageOf(stub)).length > 0 && Date.now() < deadline) await sleep(20);
  if (names.length > 0) throw new Error(`${what} keeps storage: ${names.join(", ")}`);
}
