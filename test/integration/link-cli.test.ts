// `smp-relay link` against a live relay: create an address from two files, read it back through
// the printed short link from another connection, delete its data, then the queue.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { runLink } from "../../src/cli/link.js";
import { connect } from "../../src/client/client.js";
import { getLinkData } from "../../src/client/links.js";
import { parseShortLink } from "../../src/protocol/shortLink.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { contactLinkId } from "../../src/crypto/linkIds.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

const WS = WebSocket as unknown as WebSocketConstructor;
let relay: TestRelay;
let dir: string;

beforeAll(async () => {
  relay = await startLocalTestRelay();
  dir = mkdtempSync(join(tmpdir(), "smp-link-cli-"));
});

afterAll(async () => {
  await relay?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runLink(argv, { out: (s) => (out += s), err: (s) => (err += s), WebSocket: WS });
  return { code, out, err };
}

describe("smp-relay link", () => {
  it("creates an address, shows it, deletes its data and then its queue", async () => {
    const fixed = join(dir, "fixed.bin");
    const user = join(dir, "user.bin");
    const keys = join(dir, "address.json");
    writeFileSync(fixed, new Uint8Array([1, 2, 3, 4, 5]));
    writeFileSync(user, "user data");
    const created = await run("create", "--relay", relay.address, "--fixed-data", fixed, "--user-data", user, "--keys", keys);
    expect(created.err).toBe("");
    expect(created.code).toBe(0);
    expect(statSync(keys).mode & 0o777).toBe(0o600);
    const link = /short link:\s+(\S+)/.exec(created.out)?.[1];
    expect(link).toMatch(/^https:\/\/127\.0\.0\.1\/a#/);
    // A QR code in block characters follows the link.
    expect(created.out).toMatch(/[█▀▄]{10}/);

    // Anyone with the link reads the data: the id comes from the link key in the link.
    const parsed = parseShortLink(link!);
    if (parsed.mode !== "contact") throw new Error("not a contact link");
    const reader = await connect(relay.wsUrl, relay.keyHash, { WebSocket: WS, pingInterval: 0 });
    try {
      const data = await getLinkData(reader, contactLinkId(parsed.linkKey));
      expect([...data.fixedData]).toEqual([1, 2, 3, 4, 5]);
      expect(new TextDecoder().decode(data.userData)).toBe("user data");
    } finally {
      reader.close();
    }

    // The link names the relay (host, port, keyHash): show needs nothing else.
    const shown = await run("show", link!);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain("fixed data:  5 bytes");
    expect(shown.out).toContain("user data:   9 bytes");

    // Not overwritten without --force.
    const again = await run("create", "--relay", relay.address, "--fixed-data", fixed, "--user-data", user, "--keys", keys);
    expect(again.code).not.toBe(0);
    expect(JSON.parse(readFileSync(keys, "utf8"))).toMatchObject({ shortLink: link });

    expect((await run("delete", "--keys", keys, "--data-only")).code).toBe(0);
    const gone = await run("show", link!);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain("ERR AUTH");
    expect((await run("delete", "--keys", keys)).code).toBe(0);
    const twice = await run("delete", "--keys", keys);
    expect(twice.code).toBe(1);
    expect(twice.err).toContain("ERR AUTH");
  });
});
