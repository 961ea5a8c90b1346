// Checks a record of sends, deliveries and acknowledgements against the relay's promise: every
// message a SEND got OK for is delivered, in order per queue, once; the only repeat allowed is a
// redelivery of a message that was not acknowledged yet, with the same msgId, before anything
// after it. Pure TypeScript (no Node APIs): the workerd fault tests, the Node integration tests
// and the load script (bench/load.ts) share it.
//
// Messages are named by the sender's sequence number per queue (which the tests put in the
// body); the relay names them by msgId. A SEND whose reply never came (the connection or the
// relay went away) is "uncertain": it may or may not have been stored, so it may be missing,
// but if it is delivered the same rules apply to it.

export type SendOutcome = "ok" | "uncertain" | "refused";

interface Sent {
  outcome: SendOutcome | "pending";
  /** Sent with OK, then expired before it was delivered: gone by design. */
  expired?: boolean;
}

interface Seen {
  msgId: string;
  /** Deliveries of this message so far. */
  times: number;
  acked: boolean;
}

interface QueueRecord {
  sent: Map<number, Sent>;
  seen: Map<number, Seen>;
  /** Highest sequence number delivered so far (-1: none). */
  last: number;
}

export interface DeliveryReport {
  /** SENDs answered OK. */
  sent: number;
  /** SENDs whose reply never came: they may be missing, but not duplicated or out of order. */
  uncertain: number;
  /** Distinct messages delivered. */
  delivered: number;
  /** Messages sent with OK and never delivered. */
  lost: number;
  /** Deliveries again of an unacknowledged message, same msgId, before any later message: allowed. */
  redelivered: number;
  /** The same msgId delivered again when that is not allowed (after its ACK, or after a later message). */
  duplicatedByMsgId: number;
  /** The same message (sequence number) delivered under a different msgId. */
  duplicatedByContent: number;
  /** A message delivered for the first time after a later one of its queue. */
  outOfOrder: number;
  /** Deliveries of messages never sent, or refused (ERR). */
  unexpected: number;
  /** The first problems, in words. */
  problems: string[];
  /** Nothing lost, duplicated, reordered or unexpected. */
  ok: boolean;
}

const MAX_PROBLEMS = 20;

export class DeliveryLog {
  private readonly queues = new Map<string, QueueRecord>();
  private counts = { redelivered: 0, duplicatedByMsgId: 0, duplicatedByContent: 0, outOfOrder: 0, unexpected: 0 };
  private readonly problems: string[] = [];

  private queue(q: string): QueueRecord {
    let r = this.queues.get(q);
    if (!r) this.queues.set(q, (r = { sent: new Map(), seen: new Map(), last: -1 }));
    return r;
  }

  private problem(text: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(text);
  }

  /** A SEND is about to go out (record it before, so a delivery that beats the OK is known). */
  sending(q: string, seq: number): void {
    const r = this.queue(q);
    if (r.sent.has(seq)) throw new Error(`delivery log: ${q}#${seq} sent twice (the test must use a new sequence number)`);
    r.sent.set(seq, { outcome: "pending" });
  }

  /** The SEND's outcome: OK, no reply (connection lost), or an ERR. */
  sendResult(q: string, seq: number, outcome: SendOutcome): void {
    const s = this.queue(q).sent.get(seq);
    if (!s) throw new Error(`delivery log: result for ${q}#${seq}, which was never sent`);
    s.outcome = outcome;
  }

  /** `sending` then `sendResult(…, "ok")`. */
  sent(q: string, seq: number): void {
    this.sending(q, seq);
    this.sendResult(q, seq, "ok");
  }

  /** A message sent with OK expired undelivered (the relay's TTL): not lost, and must not come. */
  expired(q: string, seq: number): void {
    const s = this.queue(q).sent.get(seq);
    if (!s) throw new Error(`delivery log: ${q}#${seq} expired, but was never sent`);
    s.expired = true;
  }

  /** A MSG reached the recipient (pushed, or as the reply to ACK or GET). */
  delivered(q: string, seq: number, msgId: string): void {
    const r = this.queue(q);
    const name = `${q}#${seq}`;
    const s = r.sent.get(seq);
    if (!s || s.outcome === "refused" || s.expired) {
      this.counts.unexpected++;
      this.problem(`${name} delivered but ${!s ? "never sent" : s.expired ? "it had expired" : "its SEND was refused"}`);
    }
    const seen = r.seen.get(seq);
    if (seen === undefined) {
      r.seen.set(seq, { msgId, times: 1, acked: false });
      if (seq < r.last) {
        this.counts.outOfOrder++;
        this.problem(`${name} delivered after #${r.last}`);
      }
      r.last = Math.max(r.last, seq);
      return;
    }
    seen.times++;
    if (seen.msgId !== msgId) {
      this.counts.duplicatedByContent++;
      this.problem(`${name} delivered again with another msgId`);
    } else if (seen.acked) {
      this.counts.duplicatedByMsgId++;
      this.problem(`${name} delivered again after it was acknowledged`);
    } else if (seq < r.last) {
      this.counts.duplicatedByMsgId++;
      this.problem(`${name} delivered again after #${r.last}`);
    } else {
      this.counts.redelivered++;
    }
  }

  /** The relay accepted the ACK of this message (reply OK, or MSG with the next one). */
  acked(q: string, seq: number): void {
    const seen = this.queue(q).seen.get(seq);
    if (!seen) throw new Error(`delivery log: ACK of ${q}#${seq}, which was never delivered`);
    seen.acked = true;
  }

  /** Messages sent with OK and not delivered yet. */
  outstanding(): number {
    let n = 0;
    for (const r of this.queues.values()) for (const [seq, s] of r.sent) if (s.outcome === "ok" && !s.expired && !r.seen.has(seq)) n++;
    return n;
  }

  /** The verdict so far; call it at the end. */
  report(): DeliveryReport {
    let sent = 0;
    let uncertain = 0;
    let delivered = 0;
    let lost = 0;
    const lostProblems: string[] = [];
    for (const [q, r] of this.queues) {
      delivered += r.seen.size;
      for (const [seq, s] of r.sent) {
        if (s.outcome === "ok") sent++;
        else if (s.outcome === "uncertain" || s.outcome === "pending") uncertain++;
        if (s.outcome === "ok" && !s.expired && !r.seen.has(seq)) {
          lost++;
          if (lostProblems.length < MAX_PROBLEMS) lostProblems.push(`${q}#${seq} sent with OK, never delivered`);
        }
      }
    }
    const c = this.counts;
    const problems = [...this.problems, ...lostProblems].slice(0, MAX_PROBLEMS);
    const ok = lost === 0 && c.duplicatedByMsgId === 0 && c.duplicatedByContent === 0 && c.outOfOrder === 0 && c.unexpected === 0;
    return { sent, uncertain, delivered, lost, ...c, problems, ok };
  }
}
