// The client's send side: commands wait here in call order, go out packed into blocks, and at
// most `maxBlocksInFlight` blocks are on the wire without all their replies.
//
// The relay does not let a connection have more than MAX_PENDING_BLOCKS (64 by default) blocks
// received but not yet handled: it refuses or closes (1008 "too many pending blocks"). A client
// that writes one block per command as soon as it is called goes past that with a burst of large
// commands (one 15,000-byte SEND fills a block), as in issue 10.
// Here a block is "in flight" from when it is sent until every transmission in it has had its
// reply (matched by corrId), its timeout, or the end of the connection; while the window is full,
// new commands wait in a local queue and then leave together, as many per block as fit.
import { encodeBatch, MAX_BATCH_COUNT, MAX_BATCH_ITEMS_SIZE, MAX_TRANSMISSION_SIZE } from "../protocol/batch.js";
import type { ServerResponse } from "../protocol/commands.js";
import { hex } from "../protocol/encoding.js";
import { TimeoutError } from "./errors.js";

/** Blocks in flight per connection by default: well below the relay's MAX_PENDING_BLOCKS (64). */
export const DEFAULT_MAX_BLOCKS_IN_FLIGHT = 8;

export interface BlockWindowOptions {
  /** Blocks sent and not fully answered, at most (a whole number, at least 1). */
  maxBlocksInFlight: number;
  /** How long a command waits for its reply, in ms, counted from when its block is sent. */
  commandTimeout: number;
  /** Seals one block's content (an encoded batch) and puts it on the wire. */
  sendBlock: (content: Uint8Array) => void;
}

/** A block on the wire: how many of its transmissions still wait for their reply. */
interface SentBlock {
  unanswered: number;
}

/** One command, from its call to its reply (or its failure). */
interface Command {
  /** hex(corrId) */
  key: string;
  /** null while the command is still being made (signed). */
  transmission: Uint8Array | null;
  resolve: (r: ServerResponse) => void;
  reject: (e: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** The block it went out in; null for a reply awaited with `expectReply` (sent by the caller). */
  block: SentBlock | null;
  settled: boolean;
}

/** A command's place in the send order, taken when it is called. */
export interface Slot {
  /** The relay's reply to this command. */
  readonly reply: Promise<ServerResponse>;
  /** The transmission is made: it goes out in its turn. Does nothing once the command has ended. */
  fill(transmission: Uint8Array): void;
  /** The transmission could not be made: the command fails with `e` and gives up its place. */
  fail(e: Error): void;
}

/** Throws RangeError unless `n` is a whole number of at least 1. */
export function checkMaxBlocksInFlight(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`maxBlocksInFlight must be a whole number of at least 1, got ${n}`);
}

/** The Large-wrapped size of a transmission in a batch, in bytes (2-byte length + bytes). */
const itemSize = (t: Uint8Array): number => 2 + t.length;

export class BlockWindow {
  /** Commands called and not sent yet, in call order. */
  private readonly waiting: Command[] = [];
  /** Commands sent (or awaited with expectReply), by hex(corrId), until their reply. */
  private readonly awaiting = new Map<string, Command>();
  private inFlight = 0;
  private pumpScheduled = false;
  private closedWith: Error | null = null;

  constructor(private readonly opts: BlockWindowOptions) {
    checkMaxBlocksInFlight(opts.maxBlocksInFlight);
  }

  /** Blocks sent whose transmissions have not all been answered (or timed out). */
  get blocksInFlight(): number {
    return this.inFlight;
  }

  /** Commands called and not sent yet (the window is full, or they are still being signed). */
  get commandsWaiting(): number {
    return this.waiting.length;
  }

  /**
   * Takes the next place in the send order for the command with this corrId. Its transmission
   * goes on the wire after those of every command reserved before it, once `fill`ed.
   */
  reserve(corrId: Uint8Array): Slot {
    const { command, reply } = this.newCommand(corrId);
    if (this.closedWith) this.settle(command, this.closedWith);
    else this.waiting.push(command);
    return { reply, fill: (t) => this.fill(command, t), fail: (e) => this.drop(command, e) };
  }

  /**
   * Waits for the reply with this corrId without sending anything (the caller put the
   * transmission on the wire itself). The timeout counts from now; the window is not involved.
   */
  expectReply(corrId: Uint8Array): Promise<ServerResponse> {
    const { command, reply } = this.newCommand(corrId);
    if (this.closedWith) this.settle(command, this.closedWith);
    else this.awaitReply(command);
    return reply;
  }

  /**
   * A transmission from the relay with this (non-empty) corrId: resolves the command waiting for
   * it. False when none is (a reply after its timeout, or a corrId we never sent).
   */
  deliver(corrId: Uint8Array, response: ServerResponse): boolean {
    const command = this.awaiting.get(hex(corrId));
    if (command === undefined) return false;
    this.settle(command, response);
    return true;
  }

  /** The connection ended: every command, sent or waiting, and every later one fails with `e`. */
  close(e: Error): void {
    if (this.closedWith) return;
    this.closedWith = e;
    for (const c of this.waiting.splice(0)) this.settle(c, e);
    for (const c of [...this.awaiting.values()]) this.settle(c, e);
    this.inFlight = 0;
  }

  private newCommand(corrId: Uint8Array): { command: Command; reply: Promise<ServerResponse> } {
    let command!: Command;
    const reply = new Promise<ServerResponse>((resolve, reject) => {
      command = { key: hex(corrId), transmission: null, resolve, reject, block: null, settled: false };
    });
    return { command, reply };
  }

  private fill(c: Command, transmission: Uint8Array): void {
    if (c.settled) return;
    if (transmission.length > MAX_TRANSMISSION_SIZE) {
      return this.drop(c, new RangeError(`transmission of ${transmission.length} bytes exceeds a block (${MAX_TRANSMISSION_SIZE} at most)`));
    }
    c.transmission = transmission;
    this.schedulePump();
  }

  private drop(c: Command, e: Error): void {
    const i = this.waiting.indexOf(c);
    if (i >= 0) this.waiting.splice(i, 1);
    this.settle(c, e);
    // It may have held back the commands behind it.
    if (i === 0) this.schedulePump();
  }

  /** Sends on the next microtask, so that commands issued in the same turn share blocks. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  /** Sends blocks of waiting commands while the window has room. */
  private pump(): void {
    this.pumpScheduled = false;
    while (this.closedWith === null && this.inFlight < this.opts.maxBlocksInFlight) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      this.send(batch);
    }
  }

  /**
   * The longest run of ready commands at the head of the queue that fits one block: stops at a
   * command still being made, so nothing overtakes it.
   */
  private takeBatch(): Command[] {
    const batch: Command[] = [];
    let size = 0;
    for (;;) {
      const t = this.waiting[0]?.transmission;
      if (t === undefined || t === null) break;
      if (batch.length === MAX_BATCH_COUNT || size + itemSize(t) > MAX_BATCH_ITEMS_SIZE) break;
      batch.push(this.waiting.shift() as Command);
      size += itemSize(t);
    }
    return batch;
  }

  private send(batch: Command[]): void {
    const block: SentBlock = { unanswered: batch.length };
    this.inFlight++;
    for (const c of batch) {
      c.block = block;
      this.awaitReply(c);
    }
    try {
      this.opts.sendBlock(encodeBatch(batch.map((c) => c.transmission as Uint8Array)));
    } catch (e) {
      // Not on the wire: no reply will come.
      for (const c of batch) this.settle(c, e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Registers the command's corrId for its reply and starts its timeout. */
  private awaitReply(c: Command): void {
    this.awaiting.set(c.key, c);
    const ms = this.opts.commandTimeout;
    c.timer = setTimeout(() => this.settle(c, new TimeoutError(`no reply within ${ms} ms`)), ms);
  }

  /** Ends the command with its reply or an error, and frees its block's place when it was the last. */
  private settle(c: Command, outcome: ServerResponse | Error): void {
    if (c.settled) return;
    c.settled = true;
    if (c.timer !== undefined) clearTimeout(c.timer);
    if (this.awaiting.get(c.key) === c) this.awaiting.delete(c.key);
    if (outcome instanceof Error) c.reject(outcome);
    else c.resolve(outcome);
    const b = c.block;
    if (b !== null && --b.unanswered === 0 && this.closedWith === null) {
      this.inFlight--;
      this.schedulePump();
    }
  }
}
