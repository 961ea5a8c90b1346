// A relay stand-in for client tests without a network: an SMPClient built on a socket that hands
// every frame to this object, which opens it with the client's send chain, records each block's
// transmissions, and answers only when the test says so. It keeps count of the blocks that are on
// its side without all their replies, the figure the relay's MAX_PENDING_BLOCKS limits.
import { SMPClient, type ConnectOptions } from "../../src/client/client.js";
import type { WebSocketLike } from "../../src/client/socket.js";
import { chainInit, decryptBlock, encryptBlock } from "../../src/crypto/blockCipher.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import { decodeBatch, encodeBatch } from "../../src/protocol/batch.js";
import { decodeCommand, encodeResponse, type ClientCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { decodeClientTransmission, encodeServerTransmission } from "../../src/protocol/transmission.js";

/** One transmission as the fake relay received it. */
export interface Received {
  /** Index of its block in `blocks`. */
  block: number;
  corrId: Uint8Array;
  entityId: Uint8Array;
  authorized: boolean;
  /** The authorization field as sent (empty, or an 80-byte X25519 authenticator). */
  authorization: Uint8Array;
  /** What the authorization covers (`tToSend`: corrId, entityId, command). */
  signed: Uint8Array;
  /** The whole transmission as it was in the batch. */
  raw: Uint8Array;
  /** The command's bytes (tag and parameters), as sent. */
  commandBytes: Uint8Array;
  command: ClientCommand;
  answered: boolean;
}

/** The reply a real relay would give on success: PONG to PING, OK to the rest. */
export const defaultReply = (t: Received): ServerResponse => (t.command.tag === "PING" ? { tag: "PONG" } : { tag: "OK" });

export class FakeRelay implements WebSocketLike {
  binaryType = "arraybuffer";
  readyState = 1;
  /** Every block received, in order, as its transmissions. */
  readonly blocks: Received[][] = [];
  /** The most blocks this side ever held without all their replies. */
  maxOpenBlocks = 0;
  closedWith: { code?: number; reason?: string } | null = null;
  client!: SMPClient;
  /** The private half of the session key the client signs against (for verifyAuthorization). */
  serverSessionPrivateKey!: Uint8Array;
  private rcvChain: Uint8Array;
  private sndChain: Uint8Array;

  private constructor(chains: { a: Uint8Array; b: Uint8Array }) {
    // The client sends with chain b and reads with chain a (as connect() sets it up).
    this.rcvChain = chains.b;
    this.sndChain = chains.a;
  }

  /** A client connected to a new fake relay (no handshake: both chain keys are made here). */
  static async connect(opts: Partial<Pick<ConnectOptions, "commandTimeout" | "pingInterval" | "maxBlocksInFlight">> = {}): Promise<FakeRelay> {
    const sessionId = randomBytes(32);
    const chains = chainInit(sessionId, randomBytes(32));
    const relay = new FakeRelay(chains);
    const serverSession = await generateX25519();
    relay.serverSessionPrivateKey = serverSession.privateKey;
    relay.client = new SMPClient(relay, sessionId, serverSession.publicKey, chains.b, chains.a, {
      commandTimeout: opts.commandTimeout ?? 10_000,
      pingInterval: opts.pingInterval ?? 0,
      maxBlocksInFlight: opts.maxBlocksInFlight ?? 8,
    });
    return relay;
  }

  /** Every transmission received, in wire order. */
  get transmissions(): Received[] {
    return this.blocks.flat();
  }

  /** Transmissions received and not answered yet, in wire order. */
  get unanswered(): Received[] {
    return this.transmissions.filter((t) => !t.answered);
  }

  /** Blocks received with at least one transmission not answered. */
  get openBlocks(): number {
    return this.blocks.filter((b) => b.some((t) => !t.answered)).length;
  }

  send(data: Uint8Array | ArrayBuffer): void {
    const frame = data instanceof Uint8Array ? data : new Uint8Array(data);
    const { content, next } = decryptBlock(this.rcvChain, frame);
    this.rcvChain = next;
    if (content === null) throw new Error("fake relay: a block that does not decrypt");
    const block = this.blocks.length;
    this.blocks.push(
      decodeBatch(content).map((raw) => {
        const t = decodeClientTransmission(raw);
        return {
          block,
          corrId: t.corrId,
          entityId: t.entityId,
          authorized: t.authorization.length > 0,
          authorization: t.authorization,
          signed: t.signed,
          raw,
          commandBytes: t.command,
          command: decodeCommand(t.command),
          answered: false,
        };
      }),
    );
    this.maxOpenBlocks = Math.max(this.maxOpenBlocks, this.openBlocks);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  addEventListener(): void {
    // The client is built directly on this socket: frames reach it through `answer` and `push`.
  }

  /** Answers these transmissions in one block (by default with `defaultReply`); none: nothing. */
  answer(ts: readonly Received[], reply: (t: Received) => ServerResponse = defaultReply): void {
    if (ts.length === 0) return;
    for (const t of ts) t.answered = true;
    this.deliver(ts.map((t) => ({ corrId: t.corrId, entityId: t.entityId, response: reply(t) })));
  }

  /** Sends transmissions the client did not ask for (an empty corrId makes them pushes). */
  deliver(items: readonly { corrId: Uint8Array; entityId: Uint8Array; response: ServerResponse }[]): void {
    const content = encodeBatch(items.map((x) => encodeServerTransmission({ corrId: x.corrId, entityId: x.entityId, command: encodeResponse(x.response) })));
    const { block, next } = encryptBlock(this.sndChain, content);
    this.sndChain = next;
    this.client.onFrame(block);
  }
}

/** Lets every pending microtask and ready callback run (one macrotask turn). */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Waits until `cond` holds, for work that finishes off the main thread (WebCrypto signing);
 * fails after `maxChecks` checks, about a millisecond apart, so a hang shows as an error.
 */
export async function until(cond: () => boolean, what: string, maxChecks = 10_000): Promise<void> {
  for (let i = 0; i < maxChecks; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`never happened: ${what}`);
}
