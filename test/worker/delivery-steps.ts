// The commands of delivery-model.test.ts, as fast-check commands over the reference model
// (delivery-model.ts) and the relay (delivery-driver.ts's World). Each one computes from the
// model what every connection must receive, runs on the relay, and checks what came (or, for a
// race or a close, which of the outcomes the rules allow came).
import type fc from "fast-check";
import type { ClientCommand } from "../../src/protocol/commands.js";
import { randomBytes } from "../../src/crypto/random.js";
import * as M from "./delivery-model.js";
import { expectationOf, single, type ExpEv, type Expectation, type World } from "./delivery-driver.js";

/** Connections the commands use (slots 0..CONNS-1). */
export const CONNS = 3;
/** The slot of the connection that drains the queues at the end. */
export const DRAIN = CONNS;

type Auth = "rcv" | "none" | { sender: string };

export const progress = {
  /** Commands run, by kind, and how races and closes went (printed at the end). */
  stats: new Map<string, number>(),
  /** The steps of the sequence running now. */
  ran: [] as Step[],
  /** Set while the queues are drained at the end of a sequence: those steps are not counted. */
  draining: false,
};

function count(what: string): void {
  if (!progress.draining) progress.stats.set(what, (progress.stats.get(what) ?? 0) + 1);
}

// ---- Steps ----

export abstract class Step implements fc.AsyncCommand<M.Model, World> {
  /** What the command resolved to in the run going on (msgIds named, a race's order, ...). */
  protected detail = "";
  /**
   * The same, kept from the last run that failed: fast-check shows the shrunk counterexample
   * after trying more sequences with these very command objects, some of which passed.
   */
  private shown = "";

  /** The run this step was part of failed: its report shows this run's detail. */
  commit(): void {
    this.shown = this.detail;
  }
  abstract name(): string;
  protected abstract exec(m: M.Model, w: World): Promise<void>;

  check(_m: Readonly<M.Model>): boolean {
    return true;
  }

  toString(): string {
    return this.shown ? `${this.name()} {${this.shown}}` : this.name();
  }

  async run(m: M.Model, w: World): Promise<void> {
    this.detail = "";
    progress.ran.push(this);
    count(this.constructor.name);
    const before = m.queues.map((_, qi) => M.describeQueue(m, qi)).join(" | ");
    try {
      await this.exec(m, w);
      M.checkInvariants(m);
      w.trace.push(this.detail ? `${this.name()} {${this.detail}}` : this.name());
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(`step ${w.trace.length + 1}, ${this.name()}${this.detail ? ` {${this.detail}}` : ""}: ${msg}\n  model before: ${before}\n  steps before: ${w.trace.join("; ") || "none"}`, { cause: e });
    }
  }
}

/** One command on one connection: the reply, then the pushes the model says it causes. */
async function command(m: M.Model, w: World, slot: number, qi: number, cmd: ClientCommand, apply: (m: M.Model) => M.Outcome, auth: Auth = "rcv"): Promise<M.Outcome> {
  const o = apply(m);
  await w.request(slot, qi, cmd, auth);
  await w.observe(`${cmd.tag} on c${slot} q${qi}`, [single(expectationOf([{ conn: slot, qi, o, replied: true }]))]);
  logOutcome(w, qi, o);
  return o;
}

function logOutcome(w: World, qi: number, o: M.Outcome): void {
  const name = w.queues[qi]!.name;
  const seq = (l: M.Label): number | null => (l.startsWith("m") ? Number(l.slice(1)) : null);
  for (const l of o.acked) if (seq(l) !== null) w.log.acked(name, seq(l)!);
  for (const l of o.gone) if (seq(l) !== null) w.log.expired(name, seq(l)!);
}

/** The delivered message of a connection on a queue, per the model (SUB or GET mode). */
function deliveredOf(m: M.Model, slot: number, qi: number): M.Label | null {
  const mode = m.mode[slot]![qi];
  return mode === "sub" ? m.queues[qi]!.delivered : mode === "get" ? m.getDelivered[slot]![qi]! : null;
}

export class Sub extends Step {
  constructor(readonly c: number, readonly q: number) {
    super();
  }
  name(): string {
    return `SUB c${this.c} q${this.q}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    await command(m, w, this.c, this.q, { tag: "SUB" }, (mm) => M.sub(mm, this.c, this.q));
  }
}

export class Get extends Step {
  constructor(readonly c: number, readonly q: number) {
    super();
  }
  name(): string {
    return `GET c${this.c} q${this.q}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    await command(m, w, this.c, this.q, { tag: "GET" }, (mm) => M.get(mm, this.c, this.q));
  }
}

export type AckKind = "delivered" | "empty" | "wrong" | "repeated";
/** The last msgId each connection named in an ACK the relay accepted, per queue. */
const lastAcked = new WeakMap<World, Map<string, M.Label>>();

/**
 * ACK on connection `c`; or, with `holder`, on a connection that has a message delivered on the
 * queue (the c-th of them, when there are any): most random ACKs would otherwise only meet
 * ERR NO_MSG.
 */
export class Ack extends Step {
  constructor(
    readonly c: number,
    readonly q: number,
    readonly kind: AckKind,
    readonly holder = false,
  ) {
    super();
  }
  name(): string {
    return `ACK ${this.holder ? `holder#${this.c}` : `c${this.c}`} q${this.q} ${this.kind}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    const holders = Array.from({ length: CONNS }, (_, i) => i).filter((i) => deliveredOf(m, i, this.q) !== null);
    const c = this.holder && holders.length > 0 ? holders[this.c % holders.length]! : this.c;
    const acked = lastAcked.get(w) ?? new Map<string, M.Label>();
    lastAcked.set(w, acked);
    const named = this.kind === "delivered" ? deliveredOf(m, c, this.q) : this.kind === "repeated" ? (acked.get(`${c}/${this.q}`) ?? null) : null;
    const bytes = named === null ? null : w.msgId(this.q, named);
    let id: M.AckId;
    let msgId: Uint8Array;
    if (this.kind === "empty") [id, msgId] = [{ empty: true }, new Uint8Array(0)];
    else if (named !== null && bytes !== null) [id, msgId] = [{ label: named }, bytes];
    else [id, msgId] = [{ unknown: true }, randomBytes(24)];
    this.detail = `${this.holder ? `on c${c}, ` : ""}${"label" in id ? `msgId of ${id.label}` : "empty" in id ? "empty msgId" : "a msgId never delivered"}`;
    const o = await command(m, w, c, this.q, { tag: "ACK", msgId }, (mm) => M.ack(mm, c, this.q, id));
    if (o.reply.tag !== "ERR" && "label" in id) acked.set(`${c}/${this.q}`, id.label);
  }
}

export type SendKind = "ok" | "large" | "unauthorized";

/** SEND of the next sequence number, from connection `from`. */
async function send(m: M.Model, w: World, from: number, qi: number, kind: SendKind): Promise<string> {
  const q = m.queues[qi]!;
  const seq = w.nextSeq();
  const size = kind === "large" ? M.MAX_BODY + 1 : 8;
  const authorized = kind !== "unauthorized";
  // Signed with the queue's sender key exactly when it has one (WIRE.md 6.6); "unauthorized" does the opposite.
  const auth: Auth = (q.senderKey !== null) === authorized ? { sender: q.senderKey ?? "k1" } : "none";
  const body = new TextEncoder().encode(`seq:${seq}`.padEnd(size, "."));
  if (!q.deleted) await w.keepQuota(qi);
  const name = w.queues[qi]!.name;
  w.log.sending(name, seq);
  const o = await command(m, w, from, qi, { tag: "SEND", notify: true, body }, (mm) => M.send(mm, qi, { seq, size, authorized }), auth);
  w.log.sendResult(name, seq, o.reply.tag === "OK" ? "ok" : "refused");
  return `m${seq}${kind === "ok" ? "" : ` ${kind}`}`;
}

export class Send extends Step {
  constructor(readonly from: number, readonly q: number, readonly kind: SendKind) {
    super();
  }
  name(): string {
    return `SEND c${this.from} q${this.q}${this.kind === "ok" ? "" : ` ${this.kind}`}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    this.detail = await send(m, w, this.from, this.q, this.kind);
  }
}

export class Off extends Step {
  constructor(readonly c: number, readonly q: number) {
    super();
  }
  name(): string {
    return `OFF c${this.c} q${this.q}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    await command(m, w, this.c, this.q, { tag: "OFF" }, (mm) => M.off(mm, this.q));
  }
}

export class Del extends Step {
  constructor(readonly c: number, readonly q: number) {
    super();
  }
  name(): string {
    return `DEL c${this.c} q${this.q}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    await command(m, w, this.c, this.q, { tag: "DEL" }, (mm) => M.del(mm, this.c, this.q));
  }
}

export class Key extends Step {
  constructor(readonly c: number, readonly q: number, readonly key: "k1" | "k2") {
    super();
  }
  name(): string {
    return `KEY c${this.c} q${this.q} ${this.key}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    await command(m, w, this.c, this.q, { tag: "KEY", senderKey: w.senderKeyDer(this.q, this.key) }, (mm) => M.key(mm, this.q, this.key));
  }
}

/**
 * A takeover SUB by connection `c` racing a re-SUB by the queue's subscriber (or, with none,
 * another connection's SUB), both sent before either reply. Whichever the Queue object handles
 * last holds the subscription and the other ends with END (WIRE.md 6.3, 6.12, 8). The holder may
 * have had an END from the first SUB before its own SOK, or none at all; never one after. A
 * message sent afterwards to an empty queue reaches the holder.
 */
export class RaceSub extends Step {
  constructor(
    readonly c: number,
    readonly q: number,
    /** The re-SUB's block goes out first (else the taker's). */
    readonly reSubFirst: boolean,
  ) {
    super();
  }
  name(): string {
    return `SUB c${this.c} q${this.q} racing a re-SUB${this.reSubFirst ? " sent just before" : ""}`;
  }
  private other(m: Readonly<M.Model>): number | null {
    const s = m.queues[this.q]!.subscriber;
    if (s !== null && s !== this.c) return s;
    for (let i = 1; i < CONNS; i++) {
      const o = (this.c + i) % CONNS;
      if (m.mode[o]![this.q] !== "get") return o;
    }
    return null;
  }
  override check(m: Readonly<M.Model>): boolean {
    if (m.queues[this.q]!.deleted || m.mode[this.c]![this.q] === "get") return false;
    const b = this.other(m);
    return b !== null && m.mode[b]![this.q] !== "get";
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    const a = this.c;
    const b = this.other(m)!;
    const orders: [number, number][] = [
      [a, b],
      [b, a],
    ];
    const alts = orders.map(([first, second]) => {
      const mm = M.cloneModel(m);
      const o1 = M.sub(mm, first, this.q);
      const o2 = M.sub(mm, second, this.q);
      const base = expectationOf([
        { conn: first, qi: this.q, o: o1, replied: true },
        { conn: second, qi: this.q, o: o2, replied: true },
      ]);
      const exp: Expectation = new Map([...base].map(([slot, evs]) => [slot, slot === second ? withoutStaleEnd(evs) : [evs]]));
      return { model: mm, exp, o: [o1, o2] };
    });
    const [x, y] = this.reSubFirst ? [b, a] : [a, b];
    await Promise.all([w.request(x, this.q, { tag: "SUB" }), w.request(y, this.q, { tag: "SUB" })]);
    const i = await w.observe(`SUB c${a} racing SUB c${b} on q${this.q}`, alts.map((x) => x.exp));
    Object.assign(m, alts[i]!.model);
    const [first, second] = orders[i]!;
    this.detail = `with c${b}; the Queue took c${first}'s then c${second}'s`;
    count(`RaceSub: ${first === a ? "the taker's SUB first" : "the re-SUB first"}`);
    const q = m.queues[this.q]!;
    if (q.msgs.length === 0 && q.status === "active" && q.canWrite) this.detail += `; then ${await send(m, w, first, this.q, "ok")} reaches c${second}`;
  }
}

/** The holder's expected events, and the same without an END that came before its own reply. */
function withoutStaleEnd(evs: ExpEv[]): ExpEv[][] {
  const reply = evs.findIndex((e) => e.kind === "reply");
  const dropped = evs.filter((e, i) => !(e.tag === "END" && i < reply));
  return dropped.length === evs.length ? [evs] : [evs, dropped];
}

export type InFlight = "none" | "SUB" | "ACK" | "SEND" | "GET";

/**
 * Connection `c` puts one command on the wire and closes at once; a fresh connection takes its
 * slot. The command may or may not have been handled: both are allowed, and the relay's state
 * (QUE from the fresh connection: size and head) and pushes to the others say which.
 */
export class CloseMidBlock extends Step {
  constructor(
    readonly c: number,
    readonly q: number,
    readonly inflight: InFlight,
    /** ms between the command's block and the close (0: the same turn). */
    readonly delay: number,
  ) {
    super();
  }
  name(): string {
    return `CLOSE c${this.c}${this.inflight === "none" ? "" : ` ${this.delay} ms after ${this.inflight} q${this.q}`}`;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    const { c, q: qi } = this;
    const q = m.queues[qi]!;
    let cmd: ClientCommand | null = null;
    let apply: ((mm: M.Model) => M.Outcome) | null = null;
    let auth: Auth = "rcv";
    let seq: number | null = null;
    if (this.inflight === "SUB") [cmd, apply] = [{ tag: "SUB" }, (mm) => M.sub(mm, c, qi)];
    else if (this.inflight === "GET") [cmd, apply] = [{ tag: "GET" }, (mm) => M.get(mm, c, qi)];
    else if (this.inflight === "ACK") {
      const named = deliveredOf(m, c, qi);
      const bytes = named === null ? null : w.msgId(qi, named);
      const id: M.AckId = named !== null && bytes !== null ? { label: named } : { empty: true };
      [cmd, apply] = [{ tag: "ACK", msgId: bytes ?? new Uint8Array(0) }, (mm) => M.ack(mm, c, qi, id)];
      this.detail = "label" in id ? `ACK names ${id.label}` : "empty msgId";
    } else if (this.inflight === "SEND") {
      const s = (seq = w.nextSeq());
      auth = q.senderKey === null ? "none" : { sender: q.senderKey };
      w.log.sending(w.queues[qi]!.name, s);
      [cmd, apply] = [{ tag: "SEND", notify: true, body: new TextEncoder().encode(`seq:${s}`) }, (mm) => M.send(mm, qi, { seq: s, size: 8, authorized: true })];
      this.detail = `m${s}`;
    }
    // Branch 0: the command never ran; branch 1: it ran (its reply and pushes to c are lost).
    const branches: { model: M.Model; o: M.Outcome | null }[] = [];
    const a = M.cloneModel(m);
    M.close(a, c);
    branches.push({ model: a, o: null });
    if (apply) {
      const b = M.cloneModel(m);
      const o = apply(b);
      M.close(b, c);
      branches.push({ model: b, o });
    }
    await w.closeMidBlock(c, cmd ? { qi, cmd, auth } : null, this.delay);
    const probe = q.deleted ? null : await w.que(c, qi);
    const fits = (mm: M.Model): boolean => {
      if (probe === null) return true;
      const msgs = mm.queues[qi]!.msgs;
      if (probe.size !== msgs.length) return false;
      const head = msgs[0];
      if (!head) return probe.head === null;
      const bound = w.bindings.id(qi, head.label);
      return bound !== undefined ? bound === probe.head : probe.head !== null && w.bindings.label(qi, probe.head) === undefined;
    };
    const alts = branches.map((br) => single(br.o ? expectationOf([{ conn: c, qi, o: br.o, replied: false }], new Set([c])) : new Map()));
    const i = await w.observe(`CLOSE c${c}`, alts, (i) => fits(branches[i]!.model)).catch((e: Error) => {
      throw new Error(`${e.message}\n    QUE: size ${probe?.size}, head ${probe?.head?.slice(0, 8) ?? "none"}; ${branches.map((br, j) => `branch ${j}: ${M.describeQueue(br.model, qi)}`).join("; ")}`);
    });
    Object.assign(m, branches[i]!.model);
    const o = branches[i]!.o;
    if (o) logOutcome(w, qi, o);
    if (seq !== null) w.log.sendResult(w.queues[qi]!.name, seq, o?.reply.tag === "OK" ? "ok" : "refused");
    if (cmd) this.detail += `${this.detail ? "; " : ""}${i === 1 ? "it ran" : "it did not run"}`;
    if (cmd) count(`CloseMidBlock: ${this.inflight} ${i === 1 ? "ran" : "did not run"}`);
  }
}

export class EvictSession extends Step {
  constructor(readonly c: number) {
    super();
  }
  name(): string {
    return `EVICT session c${this.c}`;
  }
  protected async exec(_m: M.Model, w: World): Promise<void> {
    await w.evictSession(this.c);
    await w.observe("Session eviction", [single(new Map())]);
  }
}

export class EvictQueue extends Step {
  constructor(readonly q: number) {
    super();
  }
  name(): string {
    return `EVICT queue q${this.q}`;
  }
  protected async exec(_m: M.Model, w: World): Promise<void> {
    await w.evictQueue(this.q);
    await w.observe("Queue eviction", [single(new Map())]);
  }
}

export class Expire extends Step {
  constructor(readonly q: number, readonly count: number, readonly alarm: boolean) {
    super();
  }
  name(): string {
    return `EXPIRE q${this.q} oldest ${this.count}${this.alarm ? ", alarm runs" : ", no alarm"}`;
  }
  override check(m: Readonly<M.Model>): boolean {
    return !m.queues[this.q]!.deleted;
  }
  protected async exec(m: M.Model, w: World): Promise<void> {
    const held = await w.expire(this.q, this.count, this.alarm);
    const pending = m.queues[this.q]!.msgs.filter((x) => !x.quota).length;
    if (held !== pending) throw new Error(`storage holds ${held} unexpired messages (markers aside) for q${this.q}, the model ${pending}`);
    const o = M.expire(m, this.q, this.count);
    this.detail = o.gone.length ? `${o.gone.join(" ")} expired` : "nothing expired";
    logOutcome(w, this.q, o);
    await w.observe("expiry", [single(new Map())]);
  }
}

