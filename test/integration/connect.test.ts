// The relay in workerd (our Miniflare harness) and our client over real WebSockets (the `ws` package).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect, type SMPClient } from "../../src/client/client.js";
import { ServerIdentityError } from "../../src/client/verifyServer.js";
import { ConnectionClosedError } from "../../src/client/errors.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { encodeBatch } from "../../src/protocol/batch.js";
import { asciiBytes, Encoder } from "../../src/protocol/encoding.js";
import { decodeServerHello, encodeClientHello } from "../../src/protocol/hello.js";
import { BLOCK_SIZE, pad, unpad } from "../../src/protocol/padding.js";
import { encodeClientTransmission, encodeSigned } from "../../src/protocol/transmission.js";
import { randomBytes } from "../../src/crypto/random.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

const WS = WebSocket as unknown as WebSocketConstructor;
let relay: TestRelay;
let keyHash: Uint8Array;

beforeAll(async () => {
  relay = await startLocalTestRelay();
  const health = (await (await fetch(`${relay.httpUrl}/health`)).json()) as { address: string };
  keyHash = parseAddress(health.address).keyHash;
});

afterAll(async () => {
  await relay?.stop();
});

const open = (): Promise<SMPClient> => connect(relay.wsUrl, keyHash, { WebSocket: WS, pingInterval: 0 });

/** Resolves with the close event of a connection. */
const closeOf = (c: SMPClient): Promise<ConnectionClosedError> => c.closed;

describe("health", () => {
  it("reports status, version and a stable smp:// address", async () => {
    const r = await fetch(`${relay.httpUrl}/health`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("application/json");
    const body = (await r.json()) as Record<string, unknown>;
    expect(body.status).toBe("ok");
    expect(body.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(body.smpVersion).toBe(19);
    expect(body.address).toMatch(/^smp:\/\/[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+$/);
    const again = (await (await fetch(`${relay.httpUrl}/health`)).json()) as Record<string, unknown>;
    expect(again.address).toBe(body.address);
  });
});

describe("handshake and PING", () => {
  it("completes the handshake and answers 100 PINGs with 100 PONGs", async () => {
    const c = await open();
    for (let i = 0; i < 100; i++) await c.ping();
    expect(c.stats.blocksReceived).toBe(100);
    c.close();
  });

  it("answers PINGs sent together in one block with one block of PONGs", async () => {
    const c = await open();
    await Promise.all(Array.from({ length: 100 }, () => c.ping()));
    expect(c.stats.blocksSent).toBe(1);
    expect(c.stats.blocksReceived).toBe(1);
    c.close();
  });

  it("serves many connections at once", async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, open));
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < 10; i++) await c.ping();
    }));
    for (const c of clients) c.close();
  });

  it("refuses a relay that does not hold the keyHash", async () => {
    const wrong = randomBytes(32);
    await expect(connect(relay.wsUrl, wrong, { WebSocket: WS, pingInterval: 0 })).rejects.toBeInstanceOf(ServerIdentityError);
  });

  it("delivers the hello to a client that listens one tick after open (smp-web's Node build)", async () => {
    for (let i = 0; i < 10; i++) {
      const ws = new WebSocket(`${relay.wsUrl}?challenge=${"A".repeat(43)}`);
      const first = await new Promise<Buffer>((resolve, reject) => {
        ws.once("open", () => setImmediate(() => ws.once("message", (d: Buffer) => resolve(d))));
        ws.once("error", reject);
        setTimeout(() => reject(new Error("hello lost")), 5000);
      });
      expect(first.length).toBe(BLOCK_SIZE);
      expect(decodeServerHello(unpad(new Uint8Array(first))).maxVersion).toBe(19);
      ws.close();
    }
  });
});

describe("bad input", () => {
  it("answers a transmission that does not parse with ERR and goes on", async () => {
    const c = await open();
    const errors: string[] = [];
    c.onPush((p) => p.response.tag === "ERR" && errors.push(p.response.code));
    c.sendFrame(c.sealBlock(encodeBatch([Uint8Array.of(5, 1, 2)])));
    await c.ping();
    expect(errors).toEqual(["BLOCK"]);
    c.close();
  });

  it("answers an unknown command with ERR CMD UNKNOWN and a malformed one with CMD SYNTAX", async () => {
    const c = await open();
    const send = (cmd: string, auth: Uint8Array = new Uint8Array(0), entity: Uint8Array = new Uint8Array(0)) => {
      const corrId = randomBytes(24);
      return c.requestRaw(corrId, encodeClientTransmission(auth, encodeSigned(corrId, entity, asciiBytes(cmd))));
    };
    expect(await send("HELLO")).toEqual({ tag: "ERR", code: "CMD UNKNOWN" });
    expect(await send("PING extra")).toEqual({ tag: "ERR", code: "CMD SYNTAX" });
    expect(await send("PING", randomBytes(80))).toEqual({ tag: "ERR", code: "CMD HAS_AUTH" });
    expect(await send("SUB")).toEqual({ tag: "ERR", code: "CMD NO_AUTH" });
    expect(await send("SUB", randomBytes(80), randomBytes(24))).toEqual({ tag: "ERR", code: "AUTH" });
    expect(await send("NKEY x", randomBytes(80), randomBytes(24))).toEqual({ tag: "ERR", code: "CMD PROHIBITED" });
    expect(await send("PING", randomBytes(33))).toEqual({ tag: "ERR", code: "BLOCK" });
    await c.ping();
    c.close();
  });

  it("answers a block whose batch framing is broken with ERR BLOCK and goes on", async () => {
    const c = await open();
    const errors: string[] = [];
    c.onPush((p) => p.response.tag === "ERR" && errors.push(p.response.code));
    c.sendFrame(c.sealBlock(new Encoder().byte(0).bytes())); // count 0
    await c.ping();
    expect(errors).toEqual(["BLOCK"]);
    c.close();
  });

  it("closes only the connection that sent a tampered block, after ERR BLOCK", async () => {
    const [bad, good] = await Promise.all([open(), open()]);
    const errors: string[] = [];
    bad.onPush((p) => p.response.tag === "ERR" && errors.push(p.response.code));
    const block = bad.sealBlock(encodeBatch([new Uint8Array(10)]));
    block[100] = (block[100] as number) ^ 1;
    bad.sendFrame(block);
    const closed = await closeOf(bad);
    expect(closed.code).toBe(1002);
    expect(errors).toEqual(["BLOCK"]);
    await good.ping();
    good.close();
  });

  it("closes only the connection that sent a wrong-sized frame", async () => {
    const [bad, good] = await Promise.all([open(), open()]);
    bad.sendFrame(new Uint8Array(BLOCK_SIZE - 1));
    expect((await closeOf(bad)).code).toBe(1002);
    await expect(bad.ping()).rejects.toBeInstanceOf(ConnectionClosedError);
    await good.ping();
    good.close();
  });

  it("closes a connection that sends two blocks in one frame", async () => {
    const c = await open();
    c.sendFrame(new Uint8Array(2 * BLOCK_SIZE));
    expect((await closeOf(c)).code).toBe(1002);
  });

  it("closes a connection that sends a text frame", async () => {
    const c = await open();
    (c as unknown as { ws: WebSocket }).ws.send("PING");
    expect((await closeOf(c)).code).toBe(1003);
  });

  it("closes a handshake that names another keyHash or version, or is not a hello", async () => {
    const attempt = async (hello: Uint8Array): Promise<number> => {
      const ws = new WebSocket(relay.wsUrl);
      const code = new Promise<number>((r) => ws.on("close", (c: number) => r(c)));
      await new Promise<void>((r) => ws.once("message", () => r()));
      ws.send(hello);
      return code;
    };
    const clientKey = new Uint8Array([...[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00], ...randomBytes(32)]);
    const base = { version: 19, keyHash, clientKey, proxyServer: false, clientService: null };
    expect(await attempt(pad(encodeClientHello({ ...base, keyHash: randomBytes(32) }), BLOCK_SIZE))).toBe(1002);
    expect(await attempt(pad(encodeClientHello({ ...base, version: 18 }), BLOCK_SIZE))).toBe(1002);
    expect(await attempt(pad(new Uint8Array([0, 19]), BLOCK_SIZE))).toBe(1002);
    expect(await attempt(randomBytes(BLOCK_SIZE))).toBe(1002);
    // And the relay still serves others.
    const c = await open();
    await c.ping();
    c.close();
  });
});

describe("closing (issue 10, input 5)", () => {
  /** Opens a plain `ws` socket, optionally completes the SMP handshake, closes it, and resolves with the close the relay sent back. */
  async function closeFromClient(code: number | undefined, handshake: boolean): Promise<{ code: number; ms: number }> {
    if (handshake) {
      const c = await open();
      const ws = (c as unknown as { ws: WebSocket }).ws;
      return closeAndWait(ws, code);
    }
    const ws = new WebSocket(`${relay.wsUrl}?challenge=${Buffer.from(randomBytes(32)).toString("base64url")}`);
    await new Promise((r) => ws.once("message", r));
    return closeAndWait(ws, code);
  }

  function closeAndWait(ws: WebSocket, code: number | undefined): Promise<{ code: number; ms: number }> {
    const t0 = Date.now();
    const closed = new Promise<{ code: number; ms: number }>((r) => ws.once("close", (c: number) => r({ code: c, ms: Date.now() - t0 })));
    if (code === undefined) ws.close();
    else ws.close(code, "bye");
    return closed;
  }

  for (const handshake of [false, true]) {
    const when = handshake ? "after the handshake" : "before the client hello";
    it(`answers a client's Close with its code (1000, 4000), and with 1000 for a Close without one, ${when}`, async () => {
      // ws reports 1006 when the relay never answers (it then waits for its own 30 s timeout).
      const answered = await Promise.all([closeFromClient(1000, handshake), closeFromClient(4000, handshake), closeFromClient(undefined, handshake)]);
      expect(answered.map((a) => a.code)).toEqual([1000, 4000, 1000]);
    });
  }
});
