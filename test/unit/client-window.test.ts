// The client's window on blocks in flight (src/client/blockWindow.ts) against a fake relay that
// answers only when told (test/helpers/fakeRelay.ts): never more than maxBlocksInFlight blocks
// without all their replies, commands that wait leave packed together and in call order,
// timeouts count from sending, a close fails every command, sent or waiting, with one error.
import { afterEach, describe, expect, it, vi } from "vitest";
import { connect, type SMPClient } from "../../src/client/client.js";
import { ConnectionClosedError, TimeoutError } from "../../src/client/errors.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import { MAX_TRANSMISSION_SIZE } from "../../src/protocol/batch.js";
import type { ServerResponse } from "../../src/protocol/commands.js";
import { FakeRelay, turn, until, type Received } from "../helpers/fakeRelay.js";
import { Rng } from "../helpers/prng.js";

const utf8 = new TextEncoder();
const queueA = randomBytes(24);
const queueB = randomBytes(24);

/** A SEND body of `size` bytes (at least 8) that starts with its number: "#<n> ". */
function numbered(n: number, size: number): Uint8Array {
  const b = new Uint8Array(Math.max(8, size)).fill(0x2e);
  b.set(utf8.encode(`#${n} `));
  return b;
}

/** The number of a transmission: its SEND body's, or -1 for other commands. */
function numberOf(t: Received): number {
  if (t.command.tag !== "SEND") return -1;
  const m = /^#(\d+) /.exec(new TextDecoder().decode(t.command.body.subarray(0, 12)));
  return m ? Number(m[1]) : -1;
}

const send = (c: SMPClient, n: number, size: number, entity = queueA): Promise<ServerResponse> =>
  c.request(entity, { tag: "SEND", notify: false, body: numbered(n, size) });

/** Collects how each promise ends, so a test can look without awaiting. */
function watch<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => Object.assign(s, { done: true, value: v }),
    (e: unknown) => Object.assign(s, { done: true, error: e }),
  );
  return s;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("window on blocks in flight", () => {
  for (const seed of [1, 2, 3]) {
    it(`never has more than 8 blocks unanswered at the relay: 300 commands of mixed sizes, answered in random order (seed ${seed})`, async () => {
      const rng = new Rng(seed);
      const relay = await FakeRelay.connect({ maxBlocksInFlight: 8 });
      const c = relay.client;
      const sizes = [0, 100, 5000, 15_000];
      const replies: Promise<ServerResponse>[] = [];
      const call = (n: number): void => {
        const size = rng.pick(sizes);
        replies.push(size === 0 ? c.request(new Uint8Array(0), { tag: "PING" }) : send(c, n, size, rng.pick([queueA, queueB])));
      };
      for (let n = 0; n < 150; n++) call(n);
      let n = 150;
      for (let step = 0; relay.unanswered.length > 0 || c.commandsWaiting > 0; step++) {
        await turn();
        expect(c.blocksInFlight).toBe(relay.openBlocks);
        expect(relay.openBlocks).toBeLessThanOrEqual(8);
        // A second wave while the first is under way.
        if (step === 20) while (n < 300) call(n++);
        const open = relay.unanswered;
        if (open.length === 0) continue;
        const k = rng.int(1, Math.min(3, open.length));
        const picked = Array.from({ length: k }, () => open.splice(rng.int(0, open.length - 1), 1)[0]!);
        relay.answer(picked);
      }
      const got = await Promise.all(replies);
      expect(got.filter((r) => r.tag === "OK").length + got.filter((r) => r.tag === "PONG").length).toBe(300);
      expect(relay.transmissions.length).toBe(300);
      expect(relay.maxOpenBlocks).toBe(8);
      expect(c.blocksInFlight).toBe(0);
      // Fewer blocks than commands: those that waited left together.
      expect(relay.blocks.length).toBeLessThan(300);
      const numbers = relay.transmissions.map(numberOf).filter((x) => x >= 0);
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    });
  }

  it("300 concurrent 15,000-byte SENDs: one block each, never more than 8 unanswered", async () => {
    const relay = await FakeRelay.connect();
    const c = relay.client;
    const replies = Array.from({ length: 300 }, (_, n) => send(c, n, 15_000, n % 2 ? queueA : queueB));
    await turn();
    expect(relay.blocks.length).toBe(8);
    expect(c.commandsWaiting).toBe(292);
    while (relay.unanswered.length > 0) {
      relay.answer(relay.unanswered.slice(0, 1));
      await turn();
    }
    expect((await Promise.all(replies)).every((r) => r.tag === "OK")).toBe(true);
    expect(relay.blocks.length).toBe(300);
    expect(relay.blocks.every((b) => b.length === 1)).toBe(true);
    expect(relay.maxOpenBlocks).toBe(8);
    expect(relay.transmissions.map(numberOf)).toEqual(Array.from({ length: 300 }, (_, n) => n));
  });

  it("a block stays in flight until every transmission in it has had its reply", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1 });
    const c = relay.client;
    const first = [send(c, 0, 10), send(c, 1, 10)];
    await turn();
    const third = watch(send(c, 2, 10));
    await turn();
    expect(relay.blocks.map((b) => b.length)).toEqual([2]);
    relay.answer([relay.blocks[0]![1]!]);
    await turn();
    expect(c.blocksInFlight).toBe(1);
    expect(relay.blocks.length).toBe(1);
    relay.answer([relay.blocks[0]![0]!]);
    await Promise.all(first);
    await turn();
    expect(relay.blocks.map((b) => b.map(numberOf))).toEqual([[0, 1], [2]]);
    relay.answer(relay.blocks[1]!);
    await turn();
    expect(third.value).toEqual({ tag: "OK" });
  });

  it("pushes and replies with a corrId it is not waiting for do not free the window", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1 });
    const c = relay.client;
    const pushes: string[] = [];
    c.onPush((p) => pushes.push(p.response.tag));
    const ping = c.request(new Uint8Array(0), { tag: "PING" });
    await turn();
    const second = watch(c.request(new Uint8Array(0), { tag: "PING" }));
    relay.deliver([
      { corrId: new Uint8Array(0), entityId: queueA, response: { tag: "END" } },
      { corrId: randomBytes(24), entityId: new Uint8Array(0), response: { tag: "PONG" } },
    ]);
    await turn();
    expect(pushes).toEqual(["END", "PONG"]);
    expect(c.blocksInFlight).toBe(1);
    expect(relay.blocks.length).toBe(1);
    expect(second.done).toBe(false);
    relay.answer(relay.unanswered);
    expect(await ping).toEqual({ tag: "PONG" });
    await turn();
    expect(relay.blocks.length).toBe(2);
  });
});

describe("batching of waiting commands", () => {
  it("30 small commands that wait behind a full window leave in one block", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1 });
    const c = relay.client;
    const first = send(c, 0, 15_000);
    await turn();
    const rest = Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? c.request(new Uint8Array(0), { tag: "PING" }) : send(c, i + 1, 100)));
    await turn();
    expect(relay.blocks.length).toBe(1);
    expect(c.commandsWaiting).toBe(30);
    relay.answer(relay.unanswered);
    await first;
    await turn();
    expect(relay.blocks.map((b) => b.length)).toEqual([1, 30]);
    relay.answer(relay.unanswered);
    expect((await Promise.all(rest)).map((r) => r.tag)).toEqual(Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? "PONG" : "OK")));
  });

  it("puts as many waiting commands in a block as fit: ten 5000-byte SENDs go as 3, 3, 3, 1", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1 });
    const c = relay.client;
    const first = send(c, 0, 15_000);
    await turn();
    const rest = Array.from({ length: 10 }, (_, i) => send(c, i + 1, 5000));
    while (relay.unanswered.length > 0) {
      relay.answer(relay.unanswered);
      await turn();
    }
    await Promise.all([first, ...rest]);
    expect(relay.blocks.map((b) => b.length)).toEqual([1, 3, 3, 3, 1]);
    expect(relay.transmissions.map(numberOf)).toEqual(Array.from({ length: 11 }, (_, n) => n));
  });

  it("keeps call order on the wire when signed commands (slower to make) and unsigned ones are mixed", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 2 });
    const c = relay.client;
    // A key of its own for each signed SEND: each needs a key agreement before it can be signed.
    const keys = await Promise.all(Array.from({ length: 20 }, () => generateX25519()));
    const signed = (n: number): boolean => n % 3 === 0;
    const replies = Array.from({ length: 60 }, (_, n) =>
      c.request(n % 2 ? queueA : queueB, { tag: "SEND", notify: false, body: numbered(n, 50) }, signed(n) ? { x25519PrivateKey: keys[n / 3]!.privateKey } : undefined),
    );
    await until(() => {
      relay.answer(relay.unanswered);
      return relay.transmissions.length === 60;
    }, "all 60 transmissions sent");
    relay.answer(relay.unanswered);
    await Promise.all(replies);
    expect(relay.transmissions.map(numberOf)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    expect(relay.transmissions.map((t) => t.authorized)).toEqual(Array.from({ length: 60 }, (_, n) => signed(n)));
    expect(relay.maxOpenBlocks).toBeLessThanOrEqual(2);
  });

  it("a transmission larger than a block fails at once with RangeError and holds nothing back", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1 });
    const c = relay.client;
    const big = c.requestRaw(randomBytes(24), new Uint8Array(MAX_TRANSMISSION_SIZE + 1));
    const ping = c.request(new Uint8Array(0), { tag: "PING" });
    await expect(big).rejects.toBeInstanceOf(RangeError);
    await turn();
    expect(relay.transmissions.map((t) => t.command.tag)).toEqual(["PING"]);
    relay.answer(relay.unanswered);
    expect(await ping).toEqual({ tag: "PONG" });
  });
});

describe("timeouts and the end of the connection", () => {
  it("a command's timeout counts from when its block is sent, not from the call", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1, commandTimeout: 1000 });
    const c = relay.client;
    const a = watch(send(c, 0, 10));
    await turn();
    vi.advanceTimersByTime(600);
    const b = watch(send(c, 1, 10));
    await turn();
    expect(relay.blocks.length).toBe(1);
    vi.advanceTimersByTime(400); // t = 1000: A's time is up, and its block's place is free
    await turn();
    expect(a.error).toBeInstanceOf(TimeoutError);
    expect(relay.blocks.map((x) => x.map(numberOf))).toEqual([[0], [1]]);
    vi.advanceTimersByTime(999); // t = 1999: B was sent at 1000
    await turn();
    expect(b.done).toBe(false);
    // A's reply, late: a push now, and it frees nothing.
    const pushes: string[] = [];
    c.onPush((p) => pushes.push(p.response.tag));
    relay.answer([relay.blocks[0]![0]!]);
    expect(pushes).toEqual(["OK"]);
    expect(c.blocksInFlight).toBe(1);
    vi.advanceTimersByTime(1); // t = 2000
    await turn();
    expect(b.error).toBeInstanceOf(TimeoutError);
    expect(c.blocksInFlight).toBe(0);
  });

  it("a close fails sent and waiting commands with the same error, and every later one", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 2 });
    const c = relay.client;
    const key = await generateX25519();
    const sent = [send(c, 0, 15_000), send(c, 1, 15_000)].map(watch);
    await turn();
    const waiting = [
      send(c, 2, 15_000),
      c.request(queueA, { tag: "SEND", notify: false, body: numbered(3, 10) }, { x25519PrivateKey: key.privateKey }),
      c.request(new Uint8Array(0), { tag: "PING" }),
    ].map(watch);
    await turn();
    expect(c.commandsWaiting).toBe(3);
    const gone = new ConnectionClosedError(1008, "too many pending blocks");
    c.shutdown(gone); // what connect()'s close listener does
    await turn();
    for (const s of [...sent, ...waiting]) expect(s.error).toBe(gone);
    await expect(c.request(new Uint8Array(0), { tag: "PING" })).rejects.toBe(gone);
    await expect(c.closed).resolves.toBe(gone);
    expect(c.commandsWaiting).toBe(0);
    expect(c.blocksInFlight).toBe(0);
    // Time for the signed command to finish signing (the check holds either way): it is not sent.
    await new Promise((r) => setTimeout(r, 50));
    expect(relay.blocks.length).toBe(2);
  });

  it("close() by the client fails the waiting commands with the in-flight ones' error", async () => {
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1 });
    const c = relay.client;
    const inFlight = watch(send(c, 0, 15_000));
    await turn();
    const waiting = watch(send(c, 1, 15_000));
    c.close();
    await turn();
    expect(inFlight.error).toBeInstanceOf(ConnectionClosedError);
    expect(waiting.error).toBe(inFlight.error);
    expect(relay.closedWith).toEqual({ code: 1000, reason: "" });
    expect(relay.blocks.length).toBe(1);
  });

  it("the keep-alive PING waits for room like any command, and goes out", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const relay = await FakeRelay.connect({ maxBlocksInFlight: 1, pingInterval: 1000 });
    const c = relay.client;
    const a = send(c, 0, 15_000);
    await turn();
    vi.advanceTimersByTime(1000);
    await turn();
    expect(c.commandsWaiting).toBe(1);
    expect(relay.blocks.length).toBe(1);
    relay.answer(relay.unanswered);
    await a;
    await turn();
    expect(relay.blocks.map((b) => b.map((t) => t.command.tag))).toEqual([["SEND"], ["PING"]]);
    relay.answer(relay.unanswered);
    await turn();
    expect(c.blocksInFlight).toBe(0);
    expect(c.isOpen).toBe(true);
    c.close();
  });

  it("connect refuses a maxBlocksInFlight that is not a whole number of at least 1, before opening a socket", async () => {
    const NoSocket = function () {
      throw new Error("no socket should be opened");
    } as unknown as WebSocketConstructor;
    for (const maxBlocksInFlight of [0, -1, 1.5, Number.NaN]) {
      await expect(connect("ws://127.0.0.1:1/", new Uint8Array(32), { WebSocket: NoSocket, maxBlocksInFlight })).rejects.toBeInstanceOf(RangeError);
    }
  });
});
