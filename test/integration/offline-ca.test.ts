// The offline-CA identity end to end: `smp-relay identity` makes the secrets, the relay (wrangler
// dev) serves with them, its address is the CLI's keyHash, our client connects; after `rotate`
// the restarted relay has a new online certificate and the same address. A bad secret or config
// var makes every request answer 500 naming it; a good config serves.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connect } from "../../src/client/client.js";
import { createQueue, getMessage, sendMessage } from "../../src/client/queues.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { parseAddress } from "../../src/protocol/address.js";
import { base64url } from "../../src/protocol/base64.js";
import { decodeServerHello } from "../../src/protocol/hello.js";
import { unpad } from "../../src/protocol/padding.js";
import { createIdentity, rotateIdentity, writeDevVars } from "../../src/cli/identity.js";
import { startRelay, type RunningRelay } from "../helpers/relay.js";

const WS = WebSocket as unknown as WebSocketConstructor;
const dirs: string[] = [];
const relays: RunningRelay[] = [];
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "smp-relay-offline-ca-"));
  dirs.push(d);
  return d;
}

async function start(opts: Parameters<typeof startRelay>[0]): Promise<RunningRelay> {
  const r = await startRelay(opts);
  relays.push(r);
  return r;
}

async function stop(r: RunningRelay): Promise<void> {
  await r.stop();
  relays.splice(relays.indexOf(r), 1);
}

async function health(r: RunningRelay): Promise<{ status: number; body: { status: string; address?: string; error?: string } }> {
  const res = await fetch(`${r.httpUrl}/health`);
  return { status: res.status, body: (await res.json()) as { status: string; address?: string; error?: string } };
}

/** The HTTP status a WebSocket upgrade gets (101 when it opens). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("open", () => {
      ws.close();
      resolve(101);
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on("error", (e) => reject(e));
  });
}

/** The certificate chain of the relay's server hello (the first frame on a new WebSocket). */
function helloCertChain(url: string): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "nodebuffer";
    ws.once("message", (data: Buffer) => {
      ws.close();
      try {
        resolve(decodeServerHello(unpad(new Uint8Array(data))).certChain);
      } catch (e) {
        reject(e as Error);
      }
    });
    ws.on("error", (e) => reject(e));
  });
}

const utf8 = new TextEncoder();

describe("offline CA identity", () => {
  it("serves the CLI's identity from .dev.vars-style secrets, and keeps the address across a rotation", async () => {
    const dir = tempDir();
    const storage = tempDir();

    // A relay that made its own identity first (a one-click deploy), on the same storage.
    const own = await start({ persistTo: storage });
    const ownAddress = (await health(own)).body.address as string;
    await stop(own);

    const created = await createIdentity({ outDir: join(dir, "ca"), host: "127.0.0.1" });
    const keyHash = base64url.encode(created.identity.keyHash);
    const devVars = join(dir, ".dev.vars");
    writeDevVars(devVars, created.secrets);

    // Secrets from a dotenv file (what .dev.vars gives `wrangler dev`; --env-file points at it).
    const first = await start({ persistTo: storage, envFile: devVars });
    const address = (await health(first)).body.address as string;
    expect(parseAddress(address).keyHash).toEqual(created.identity.keyHash);
    expect(address).toBe(`smp://${keyHash}@${new URL(first.httpUrl).host}`);
    expect(address).not.toBe(ownAddress);
    expect(await helloCertChain(first.wsUrl)).toEqual([created.identity.onlineCert, created.identity.caCert]);
    const c1 = await connect(first.wsUrl, created.identity.keyHash, { WebSocket: WS, pingInterval: 0 });
    const q = await createQueue(c1);
    await sendMessage(c1, q.sndId, utf8.encode("before rotation"));
    c1.close();
    await stop(first);

    // Rotate: new online key and certificate, same CA. Restart with them as --var bindings.
    const rotated = await rotateIdentity({ caDir: join(dir, "ca"), host: "127.0.0.1" });
    expect(rotated.secrets.RELAY_CA_CERT).toBe(created.secrets.RELAY_CA_CERT);
    expect(rotated.secrets.RELAY_ONLINE_CERT).not.toBe(created.secrets.RELAY_ONLINE_CERT);
    const second = await start({ persistTo: storage, port: Number(new URL(first.httpUrl).port), vars: rotated.secrets });
    expect((await health(second)).body.address).toBe(address);
    expect(await helloCertChain(second.wsUrl)).toEqual([rotated.identity.onlineCert, created.identity.caCert]);
    const c2 = await connect(second.wsUrl, parseAddress(address).keyHash, { WebSocket: WS, pingInterval: 0 });
    await c2.ping();
    // Queues do not depend on the identity: the message sent before the rotation is there.
    const m = await getMessage(c2, q);
    expect(m && !m.quota ? new TextDecoder().decode(m.body) : m).toBe("before rotation");
    c2.close();
    await stop(second);
  });

  it("refuses every request with 500 naming the bad secret or var; a good config serves", async () => {
    const dir = tempDir();
    const created = await createIdentity({ outDir: join(dir, "ca") });
    const rotated = await rotateIdentity({ caDir: join(dir, "ca") });
    const badEnv = join(dir, "bad.env");
    writeDevVars(badEnv, { ...created.secrets, RELAY_CA_CERT: "not a certificate" });

    const [mismatch, malformed, partial, badQuota, good] = await Promise.all([
      // The new online key with the old online certificate.
      start({ vars: { ...created.secrets, RELAY_ONLINE_KEY: rotated.secrets.RELAY_ONLINE_KEY }, allowUnhealthy: true }),
      start({ envFile: badEnv, allowUnhealthy: true }),
      start({ vars: { RELAY_CA_CERT: created.secrets.RELAY_CA_CERT, RELAY_ONLINE_CERT: created.secrets.RELAY_ONLINE_CERT }, allowUnhealthy: true }),
      start({ vars: { QUEUE_QUOTA: "-1" }, allowUnhealthy: true }),
      start({ vars: { QUEUE_QUOTA: "5", ...created.secrets } }),
    ]);

    const expectRefusal = async (r: RunningRelay, message: RegExp): Promise<void> => {
      const h = await health(r);
      expect(h.status).toBe(500);
      expect(h.body.status).toBe("error");
      expect(h.body.error).toMatch(message);
      const page = await fetch(`${r.httpUrl}/`);
      expect(page.status).toBe(500);
      expect(await page.text()).toMatch(new RegExp(`^smp-relay configuration error: ${message.source.replace(/^\^/, "")}`));
      expect(await upgradeStatus(`${r.wsUrl}?challenge=x`)).toBe(500);
      // Logged once per isolate, not once per request.
      await new Promise((res) => setTimeout(res, 300));
      expect(r.log().match(/smp-relay: refusing to serve/g)).toHaveLength(1);
    };
    await expectRefusal(mismatch, /^RELAY_ONLINE_KEY: does not match RELAY_ONLINE_CERT/);
    await expectRefusal(malformed, /^RELAY_CA_CERT: not base64url DER or a PEM certificate/);
    await expectRefusal(partial, /^RELAY_ONLINE_KEY: not set, while RELAY_CA_CERT and RELAY_ONLINE_CERT are/);
    await expectRefusal(badQuota, /^QUEUE_QUOTA must be a whole number from 1 to 10000, got "-1"/);

    const h = await health(good);
    expect(h.status).toBe(200);
    expect(parseAddress(h.body.address as string).keyHash).toEqual(created.identity.keyHash);
    const c = await connect(good.wsUrl, created.identity.keyHash, { WebSocket: WS, pingInterval: 0 });
    await c.ping();
    c.close();
  });
});
