// `smp-relay link` (src/cli/link.ts): argument handling (usage and exit code 2, --help), and each
// subcommand run against a fake relay (test/helpers/fakeRelay.ts) through runLink's `connect`
// hook: what it sends, the keys file it writes (mode 0600, never overwritten without --force),
// what it prints (the QR code read back by jsQR), and its exit codes. Real sockets: the lead's
// integration test against a local relay.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jsQR from "jsqr";
import { afterEach, describe, expect, it } from "vitest";
import { LINK_USAGE, parseRelayArg, qrText, readKeysFile, runLink, webSocketUrlFor, type KeysFile, type LinkIo } from "../../src/cli/link.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { verifyAuthorization } from "../../src/crypto/authenticator.js";
import { contactLinkId } from "../../src/crypto/linkIds.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import { base64url } from "../../src/protocol/base64.js";
import type { IdsResponse, ServerResponse } from "../../src/protocol/commands.js";
import { transmissionForAuth } from "../../src/protocol/transmission.js";
import { FakeRelay, type Received } from "../helpers/fakeRelay.js";
import { hx, X25519_DER_PREFIX } from "./vectors.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "smp-relay-link-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const keyHash = randomBytes(32);
const kh = base64url.encode(keyHash);
const localAddress = `smp://${kh}@127.0.0.1:8787`;
const srvDh = await generateX25519();

interface Run {
  code: number;
  out: string;
  err: string;
  relay: FakeRelay;
  connects: { url: string; keyHash: Uint8Array }[];
}

/** Runs `smp-relay link ARGV` with a fake relay that answers every command with `reply`. */
async function run(argv: string[], reply: (t: Received) => ServerResponse = () => ({ tag: "OK" })): Promise<Run> {
  const relay = await FakeRelay.connect();
  const connects: Run["connects"] = [];
  let out = "";
  let err = "";
  const io: LinkIo = {
    out: (s) => (out += s),
    err: (s) => (err += s),
    WebSocket: class {} as unknown as WebSocketConstructor,
    connect: async (url, kh) => {
      connects.push({ url, keyHash: kh });
      return relay.client;
    },
  };
  let done = false;
  const result = runLink(argv, io).finally(() => (done = true));
  while (!done) {
    relay.answer(relay.unanswered, reply);
    await new Promise((r) => setTimeout(r, 1));
  }
  return { code: await result, out, err, relay, connects };
}

function ids(t: Received): IdsResponse {
  if (t.command.tag !== "NEW") throw new Error(`expected NEW, got ${t.command.tag}`);
  const link = t.command.queueReqData!.link!;
  return {
    tag: "IDS",
    rcvId: randomBytes(24),
    sndId: link.sndId,
    srvDhKey: new Uint8Array([...Buffer.from(X25519_DER_PREFIX, "hex"), ...srvDh.publicKey]),
    queueMode: "C",
    linkId: link.linkId,
    serviceId: null,
    serverNtfCreds: null,
  };
}

/** The QR code printed in `out` (half blocks; light modules drawn), read back by jsQR. */
function readQr(out: string): string | null {
  const lines = out.split("\n").filter((l) => l.length > 20 && /^[█▀▄ ]+$/.test(l));
  const width = lines[0]!.length;
  const rows: boolean[][] = []; // true: dark module
  for (const l of lines) {
    rows.push([...l].map((c) => !(c === "█" || c === "▀")));
    rows.push([...l].map((c) => !(c === "█" || c === "▄")));
  }
  const scale = 4;
  const [w, h] = [width * scale, rows.length * scale];
  const data = new Uint8ClampedArray(w * h * 4).fill(255);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (rows[Math.floor(y / scale)]![Math.floor(x / scale)]) data.fill(0, (y * w + x) * 4, (y * w + x) * 4 + 3);
    }
  }
  return jsQR(data, w, h)?.data ?? null;
}

function blobs(dir: string): { fixed: string; user: string; fixedBytes: Uint8Array; userBytes: Uint8Array } {
  const fixedBytes = randomBytes(300);
  const userBytes = randomBytes(20);
  const fixed = join(dir, "fixed.bin");
  const user = join(dir, "user.bin");
  writeFileSync(fixed, fixedBytes);
  writeFileSync(user, userBytes);
  return { fixed, user, fixedBytes, userBytes };
}

describe("smp-relay link: arguments", () => {
  it("--help and -h print the usage on stdout, exit 0", async () => {
    for (const argv of [["--help"], ["-h"], ["create", "--help"]]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`Usage:\n${LINK_USAGE}`);
      expect(r.err).toBe("");
    }
  });

  it("bad arguments: a one-line reason and the usage on stderr, exit 2, no connection", async () => {
    const bad: [string[], string][] = [
      [[], "missing subcommand"],
      [["frob"], 'unknown subcommand "frob"'],
      [["show", "--bogus", "x"], "--bogus"],
      [["show"], "show takes one short link"],
      [["show", "a", "b"], "show takes one short link"],
      [["show", "https://relay.example.com/a#AAAA"], "is not a short link: linkKey must be 32 bytes"],
      [["show", "--force", `https://relay.example.com/a#${base64url.encode(randomBytes(32))}`], "show takes no --force"],
      [["create", "--relay", localAddress, "--fixed-data", "f"], "create needs --relay, --fixed-data and --user-data"],
      [["create", "--relay", "ws://127.0.0.1:8787/", "--fixed-data", "f", "--user-data", "u"], "create needs the relay's smp:// address"],
      [["create", "--relay", "smp://nope@host", "--fixed-data", "f", "--user-data", "u"], "--relay smp://nope@host"],
      [["create", "--relay", localAddress, "--fixed-data", "f", "--user-data", "u", "--data-only"], "create takes no --data-only"],
      [["create", "--relay", localAddress, "--fixed-data", "f", "--user-data", "u", "--url", "http://x/"], "expected a ws:// or wss:// URL"],
      [["delete", "extra"], 'unexpected argument "extra"'],
      [["delete", "--basic-auth", "pw"], "delete takes no --basic-auth"],
    ];
    for (const [argv, reason] of bad) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err.split("\n")[0]).toContain(reason);
      expect(r.err).toContain(LINK_USAGE);
      expect(r.out).toBe("");
      expect(r.connects).toHaveLength(0);
    }
  });

  it("--relay: an address, with a password, or a WebSocket URL; the URL derived from the host", () => {
    expect(parseRelayArg(localAddress)).toEqual({ address: { keyHash, host: "127.0.0.1:8787" } });
    expect(parseRelayArg(`smp://${kh}:secret@relay.example.com`)).toEqual({ address: { keyHash, host: "relay.example.com" }, password: "secret" });
    expect(parseRelayArg("wss://relay.example.com/x")).toEqual({ url: "wss://relay.example.com/x" });
    expect(webSocketUrlFor("relay.example.com")).toBe("wss://relay.example.com/");
    expect(webSocketUrlFor("relay.example.com:8443")).toBe("wss://relay.example.com:8443/");
    expect(webSocketUrlFor("127.0.0.1:8787")).toBe("ws://127.0.0.1:8787/");
    expect(webSocketUrlFor("localhost:8787")).toBe("ws://localhost:8787/");
  });
});

describe("smp-relay link create / show / delete", () => {
  async function create(dir: string, extra: string[] = []): Promise<Run & { keysPath: string; b: ReturnType<typeof blobs> }> {
    const b = blobs(dir);
    const keysPath = join(dir, "addr.json");
    const r = await run(["create", "--relay", localAddress, "--fixed-data", b.fixed, "--user-data", b.user, "--keys", keysPath, ...extra], ids);
    return { ...r, keysPath, b };
  }

  it("create: NEW with the files' bytes, a 0600 keys file, the short link and its QR code", async () => {
    const dir = tempDir();
    const r = await create(dir, ["--basic-auth", "pw"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.connects).toHaveLength(1);
    expect(r.connects[0]!.url).toBe("ws://127.0.0.1:8787/");
    expect(hx(r.connects[0]!.keyHash)).toBe(hx(keyHash));
    const [t] = r.relay.transmissions;
    if (t?.command.tag !== "NEW") throw new Error("no NEW");
    expect(t.command.subscribe).toBe(false);
    expect(new TextDecoder().decode(t.command.basicAuth!)).toBe("pw");
    expect(hx(t.command.queueReqData!.link!.fixedData)).toBe(hx(r.b.fixedBytes));
    expect(hx(t.command.queueReqData!.link!.userData)).toBe(hx(r.b.userBytes));
    expect(r.relay.closedWith).not.toBeNull();

    expect(statSync(r.keysPath).mode & 0o777).toBe(0o600);
    const keys = JSON.parse(readFileSync(r.keysPath, "utf8")) as KeysFile;
    const linkKey = base64url.decode(keys.linkKey);
    expect(keys.linkId).toBe(base64url.encode(contactLinkId(linkKey)));
    expect(keys.relay).toBe(localAddress);
    expect(keys.url).toBe("ws://127.0.0.1:8787/");
    expect(keys.shortLink).toBe(`https://127.0.0.1/a#${keys.linkKey}?p=8787&c=${kh}`);
    // The NEW was signed with the key the file holds.
    const auth = base64url.decode(keys.rcvAuthKey.publicKey);
    expect(hx(t.command.rcvAuthKey)).toBe(X25519_DER_PREFIX + hx(auth));
    expect(r.out).toContain(`short link:  ${keys.shortLink}`);
    expect(readQr(r.out)).toBe(keys.shortLink);
    expect(readKeysFile(r.keysPath).queue.linkId).toEqual(contactLinkId(linkKey));
  });

  it("create never overwrites a keys file without --force, and asks nothing of the relay then", async () => {
    const dir = tempDir();
    const first = await create(dir);
    const before = readFileSync(first.keysPath, "utf8");
    const again = await create(dir);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exists/);
    expect(again.connects).toHaveLength(0);
    expect(readFileSync(first.keysPath, "utf8")).toBe(before);
    writeFileSync(first.keysPath, before, { mode: 0o644 });
    const forced = await create(dir, ["--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(first.keysPath, "utf8")).not.toBe(before);
    expect(statSync(first.keysPath).mode & 0o777).toBe(0o600);
  });

  it("create: ERR from the relay is one line and exit 1, no keys file", async () => {
    const dir = tempDir();
    const b = blobs(dir);
    const keysPath = join(dir, "k.json");
    const r = await run(["create", "--relay", localAddress, "--fixed-data", b.fixed, "--user-data", b.user, "--keys", keysPath], () => ({ tag: "ERR", code: "AUTH" }));
    expect(r.code).toBe(1);
    expect(r.err).toBe("smp-relay link: the relay answered ERR AUTH\n");
    expect(() => statSync(keysPath)).toThrow();
  });

  it("show: LGET of the link's id on the relay it names; sender id and sizes; ERR AUTH is one line, exit 1", async () => {
    const linkKey = randomBytes(32);
    const link = `https://relay.example.com/a#${base64url.encode(linkKey)}?c=${kh}`;
    const senderId = randomBytes(24);
    const r = await run(["show", link], () => ({ tag: "LNK", sndId: senderId, fixedData: new Uint8Array(300), userData: new Uint8Array(7) }));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.connects[0]!.url).toBe("wss://relay.example.com/");
    expect(hx(r.connects[0]!.keyHash)).toBe(hx(keyHash));
    const [t] = r.relay.transmissions;
    expect(t!.command.tag).toBe("LGET");
    expect(t!.authorized).toBe(false);
    expect(hx(t!.entityId)).toBe(hx(contactLinkId(linkKey)));
    expect(r.out).toBe(`sender id:   ${base64url.encode(senderId)}\nfixed data:  300 bytes\nuser data:   7 bytes\n`);

    const denied = await run(["show", link, "--relay", "ws://127.0.0.1:9999/"], () => ({ tag: "ERR", code: "AUTH" }));
    expect(denied.code).toBe(1);
    expect(denied.connects[0]!.url).toBe("ws://127.0.0.1:9999/");
    expect(denied.err).toBe("smp-relay link: no contact address with this link on ws://127.0.0.1:9999/ (ERR AUTH)\n");
    expect(denied.out).toBe("");
  });

  it("show refuses an invitation (LKEY would use it up) and a link without keyHash unless --relay names one", async () => {
    const key = base64url.encode(randomBytes(32));
    const inv = await run(["show", `https://relay.example.com/i#${base64url.encode(randomBytes(24))}/${key}?c=${kh}`]);
    expect(inv.code).toBe(1);
    expect(inv.err).toMatch(/one-time invitation/);
    expect(inv.connects).toHaveLength(0);
    const preset = await run(["show", `https://relay.example.com/a#${key}`]);
    expect(preset.code).toBe(1);
    expect(preset.err).toMatch(/no relay keyHash/);
    const named = await run(["show", `https://relay.example.com/a#${key}`, "--relay", localAddress], () => ({
      tag: "LNK",
      sndId: randomBytes(24),
      fixedData: new Uint8Array(0),
      userData: new Uint8Array(0),
    }));
    expect(named.code).toBe(0);
    expect(named.connects[0]).toEqual({ url: "ws://127.0.0.1:8787/", keyHash });
  });

  it("delete: DEL (or LDEL with --data-only) of the keys file's queue, signed with its key", async () => {
    const dir = tempDir();
    const { keysPath } = await create(dir);
    const { queue, url } = readKeysFile(keysPath);
    for (const [extra, tag] of [[[], "DEL"], [["--data-only"], "LDEL"]] as const) {
      const r = await run(["delete", "--keys", keysPath, ...extra]);
      expect(r.code).toBe(0);
      expect(r.connects[0]).toEqual({ url, keyHash });
      const [t] = r.relay.transmissions;
      expect(t!.command.tag).toBe(tag);
      expect(hx(t!.entityId)).toBe(hx(queue.rcvId));
      const ok = await verifyAuthorization(
        { alg: "x25519", raw: queue.rcvAuthKey.publicKey },
        t!.authorization,
        transmissionForAuth(r.relay.client.sessionId, t!.signed),
        t!.corrId,
        r.relay.serverSessionPrivateKey,
      );
      expect(ok).toBe(true);
      expect(r.out).toContain(`(${tag})`);
    }
    const gone = await run(["delete", "--keys", keysPath], () => ({ tag: "ERR", code: "AUTH" }));
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/ERR AUTH/);
    const missing = await run(["delete", "--keys", join(dir, "none.json")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/not found/);
  });

  it("qrText reads back as its text", () => {
    const link = `https://relay.example.com/a#${base64url.encode(randomBytes(32))}?c=${kh}`;
    expect(readQr(qrText(link))).toBe(link);
  });
});
