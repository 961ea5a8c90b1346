// The backup format (identityBackup.ts), RELAY_ROUTING_KEY, and the backup/restore CLI (backup.ts)
// against a fake relay.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { base64url } from "../../src/protocol/base64.js";
import { BACKUP_USAGE, relayBase, runBackup, runRestore, type BackupIo } from "../../src/cli/backup.js";
import { main as identityMain } from "../../src/cli/identity.js";
import { ConfigError } from "../../src/server/config.js";
import { generateIdentity, serializeIdentity } from "../../src/server/identity.js";
import { BackupError, decryptBackup, encryptBackup, parseRelayState, stateToJson, type BackupDocument } from "../../src/server/identityBackup.js";
import { routingKeyFromSecret } from "../../src/server/identitySecrets.js";

const dir = mkdtempSync(join(tmpdir(), "smp-relay-backup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const made = await generateIdentity("relay.example.com");
const identity = serializeIdentity(made.identity, made.caKey);
const routingKey = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const PASS = "correct horse battery";
const FAST = { iterations: 100_000 };

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BackupError) return `${e.kind}: ${e.message}`;
    throw e;
  }
  return "accepted";
}

describe("backup format", () => {
  it("round trip at the default 600,000 iterations: identity with its CA key, and the routing key", async () => {
    const doc = await encryptBackup({ identity, routingKey }, PASS);
    expect(doc.format).toBe("smp-relay-backup");
    expect(doc.kdf).toMatchObject({ name: "PBKDF2-SHA256", iterations: 600_000 });
    expect(base64url.decode(doc.kdf.salt)).toHaveLength(16);
    expect(base64url.decode(doc.cipher.nonce)).toHaveLength(12);
    expect(doc.keyHash).toBe(base64url.encode(made.identity.keyHash));
    expect(JSON.stringify(doc)).not.toContain(identity.caKey!.seed);
    const back = await decryptBackup(JSON.parse(JSON.stringify(doc)), PASS);
    expect(back.identity).toEqual(identity);
    expect(back.routingKey).toEqual(routingKey);
    expect(back.keyHash).toEqual(made.identity.keyHash);
  });

  it("without an identity (the RELAY_* secrets hold it): the routing key alone", async () => {
    const doc = await encryptBackup({ identity: null, routingKey }, PASS, FAST);
    expect(doc.keyHash).toBeNull();
    const back = await decryptBackup(doc, PASS);
    expect(back).toEqual({ identity: null, routingKey, keyHash: null });
  });

  it("fresh salt and nonce every time", async () => {
    const a = await encryptBackup({ identity: null, routingKey }, PASS, FAST);
    const b = await encryptBackup({ identity: null, routingKey }, PASS, FAST);
    expect(a.kdf.salt).not.toBe(b.kdf.salt);
    expect(a.cipher.nonce).not.toBe(b.cipher.nonce);
  });

  it("a wrong passphrase, or any change to the document, is refused with a clear error", async () => {
    const doc = await encryptBackup({ identity, routingKey }, PASS, FAST);
    expect(await kind(decryptBackup(doc, "correct horse battery!"))).toMatch(/^passphrase: .*wrong passphrase/);
    const ct = base64url.decode(doc.ciphertext);
    ct[5]! ^= 1;
    const tampered: BackupDocument[] = [
      { ...doc, ciphertext: base64url.encode(ct) },
      { ...doc, keyHash: base64url.encode(new Uint8Array(32)) },
      { ...doc, keyHash: null },
      { ...doc, kdf: { ...doc.kdf, iterations: doc.kdf.iterations + 1 } },
      { ...doc, kdf: { ...doc.kdf, salt: base64url.encode(new Uint8Array(16)) } },
      { ...doc, cipher: { ...doc.cipher, nonce: base64url.encode(new Uint8Array(12)) } },
    ];
    for (const t of tampered) expect(await kind(decryptBackup(t, PASS))).toMatch(/^passphrase: /);
  });

  it("a document that is not one is refused before any key derivation", async () => {
    const doc = await encryptBackup({ identity: null, routingKey }, PASS, FAST);
    const bad: unknown[] = [
      null,
      [],
      "x",
      { ...doc, format: "other" },
      { ...doc, version: 2 },
      { ...doc, kdf: { ...doc.kdf, name: "scrypt" } },
      { ...doc, cipher: { ...doc.cipher, name: "AES-128-GCM" } },
      { ...doc, kdf: { ...doc.kdf, iterations: 1000 } },
      { ...doc, kdf: { ...doc.kdf, iterations: 1e12 } },
      { ...doc, kdf: { ...doc.kdf, salt: "AA" } },
      { ...doc, cipher: { ...doc.cipher, nonce: "!!" } },
      { ...doc, ciphertext: undefined },
    ];
    for (const b of bad) expect(await kind(decryptBackup(b, PASS))).toMatch(/^format: not an smp-relay backup/);
  });

  it("a short passphrase is refused", async () => {
    expect(await kind(encryptBackup({ identity: null, routingKey }, "short"))).toMatch(/^passphrase: .*at least 8/);
  });

  it("the state is validated: routing key size, identity record, CA key", async () => {
    await expect(parseRelayState(stateToJson({ identity, routingKey }))).resolves.toMatchObject({ identity, routingKey });
    const other = await generateIdentity("x");
    const bad: unknown[] = [
      { ...stateToJson({ identity: null, routingKey }), routingKey: base64url.encode(new Uint8Array(31)) },
      { ...stateToJson({ identity: null, routingKey }), format: "x" },
      stateToJson({ identity: { ...identity, onlineKey: serializeIdentity(other.identity).onlineKey }, routingKey }),
      stateToJson({ identity: { ...identity, caKey: serializeIdentity(other.identity, other.caKey).caKey }, routingKey }),
      stateToJson({ identity: { ...identity, caCert: "AAAA" }, routingKey }),
    ];
    for (const b of bad) expect(await kind(parseRelayState(b))).toMatch(/^contents: not a relay state/);
    // Unknown fields are dropped, not stored.
    const extra = await parseRelayState(stateToJson({ identity: { ...identity, extra: 1 } as typeof identity, routingKey }));
    expect(extra.identity).toEqual(identity);
  });
});

describe("RELAY_ROUTING_KEY", () => {
  it("accepts 32 bytes of base64url (or base64), unset or blank is null, anything else a ConfigError naming it", () => {
    expect(routingKeyFromSecret({})).toBeNull();
    expect(routingKeyFromSecret({ RELAY_ROUTING_KEY: "  " })).toBeNull();
    expect(routingKeyFromSecret({ RELAY_ROUTING_KEY: base64url.encode(routingKey) })).toEqual(routingKey);
    expect(routingKeyFromSecret({ RELAY_ROUTING_KEY: Buffer.from(routingKey).toString("base64") })).toEqual(routingKey);
    for (const v of [base64url.encode(new Uint8Array(16)), "not base64!", `"${base64url.encode(routingKey)}"`]) {
      expect(() => routingKeyFromSecret({ RELAY_ROUTING_KEY: v })).toThrow(ConfigError);
      expect(() => routingKeyFromSecret({ RELAY_ROUTING_KEY: v })).toThrow(/^RELAY_ROUTING_KEY: /);
    }
  });

  it("smp-relay identity --routing-key prints a fresh valid one", async () => {
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void out.push(s) };
    expect(await identityMain(["identity", "--routing-key"], io)).toBe(0);
    expect(await identityMain(["identity", "--routing-key"], io)).toBe(0);
    const [a, b] = out.map((s) => s.trim());
    expect(routingKeyFromSecret({ RELAY_ROUTING_KEY: a })).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(await identityMain(["identity", "--routing-key", "--json"], io)).toBe(2);
  });
});

// ---- the CLI against a fake relay ----

interface Fake {
  io: BackupIo;
  out: string[];
  err: string[];
  calls: { url: string; init: RequestInit }[];
}

function fake(answer: (url: string, init: RequestInit) => Response, passphrases: string[] = []): Fake {
  const f: Fake = {
    out: [],
    err: [],
    calls: [],
    io: {
      out: (s) => void f.out.push(s),
      err: (s) => void f.err.push(s),
      fetch: (url, init) => {
        f.calls.push({ url, init });
        return Promise.resolve(answer(url, init));
      },
      readPassphrase: () => {
        const p = passphrases.shift();
        return p === undefined ? Promise.reject(new Error("asked once too often")) : Promise.resolve(p);
      },
    },
  };
  return f;
}

const passFile = join(dir, "pass");
writeFileSync(passFile, `${PASS}\n`);

describe("smp-relay backup / restore", () => {
  it("relayBase: https anywhere, plain http to this machine only", () => {
    expect(relayBase("https://relay.example.com")).toBe("https://relay.example.com/admin/identity");
    expect(relayBase("https://relay.example.com/")).toBe("https://relay.example.com/admin/identity");
    expect(relayBase("http://127.0.0.1:8787")).toBe("http://127.0.0.1:8787/admin/identity");
    expect(relayBase("http://localhost:8787")).toBe("http://localhost:8787/admin/identity");
    for (const bad of ["http://relay.example.com", "ftp://x", "relay.example.com", "https://u:p@x", "https://x/?a=1"]) {
      expect(() => relayBase(bad)).toThrow();
    }
  });

  it("usage errors exit 2, --help 0; the passphrase is never taken on the command line", async () => {
    const f = fake(() => new Response(null, { status: 500 }));
    expect(await runBackup(["--help"], f.io)).toBe(0);
    expect(f.out.join("")).toContain(BACKUP_USAGE);
    const bad: string[][] = [
      [],
      ["--relay", "https://x", "--out", "f"],
      ["--relay", "https://x", "--token", "t"],
      ["--relay", "https://x", "--token", "t", "--token-file", "f", "--out", "f"],
      ["--relay", "http://example.com", "--token", "t", "--out", "f"],
      ["--relay", "https://x", "--token", "t", "--out", "f", "--passphrase", "secret secret"],
      ["--relay", "https://x", "--token", "t", "--out", "f", "extra"],
      ["--relay", "https://x", "--token", "t", "--in", "f"],
    ];
    for (const args of bad) expect(await runBackup(args, f.io), args.join(" ")).toBe(2);
    expect(await runRestore(["--relay", "https://x", "--token", "t", "--out", "f"], f.io)).toBe(2);
    expect(f.err.join("")).toContain("not taken on the command line");
    expect(f.calls).toEqual([]);
  });

  it("backup: POSTs with the bearer token, writes the encrypted document (0600), never overwrites", async () => {
    const state = stateToJson({ identity, routingKey });
    const f = fake(() => Response.json(state), [PASS, PASS]);
    const out = join(dir, "b1.json");
    expect(await runBackup(["--relay", "https://relay.example.com", "--token", "tok", "--out", out], f.io)).toBe(0);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.url).toBe("https://relay.example.com/admin/identity/backup");
    expect(f.calls[0]!.init.method).toBe("POST");
    expect((f.calls[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer tok");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain(PASS);
    expect(text).not.toContain(identity.caKey!.seed);
    const back = await decryptBackup(JSON.parse(text), PASS);
    expect(back.identity).toEqual(identity);
    expect(back.routingKey).toEqual(routingKey);
    expect(f.err.join("")).toContain(base64url.encode(made.identity.keyHash));
    // Not again over the same file.
    const g = fake(() => Response.json(state), [PASS, PASS]);
    expect(await runBackup(["--relay", "https://relay.example.com", "--token", "tok", "--out", out], g.io)).toBe(1);
    expect(g.err.join("")).toContain("already exists");
    expect(g.calls).toEqual([]);
  });

  it("backup: mismatched or short passphrases, a refused token, a bad answer: exit 1, no file", async () => {
    const state = stateToJson({ identity, routingKey });
    const cases: [Fake, RegExp][] = [
      [fake(() => Response.json(state), [PASS, `${PASS}x`]), /differ/],
      [fake(() => Response.json(state), ["short"]), /at least 8/],
      [fake(() => new Response("no", { status: 401 }), [PASS, PASS]), /refused the token/],
      [fake(() => new Response("no", { status: 404 }), [PASS, PASS]), /not found/],
      [fake(() => Response.json({ format: "x" }), [PASS, PASS]), /not a valid state/],
    ];
    for (const [i, [f, msg]] of cases.entries()) {
      const out = join(dir, `bad${i}.json`);
      expect(await runBackup(["--relay", "https://x.example", "--token", "t", "--out", out], f.io)).toBe(1);
      expect(f.err.join("")).toMatch(msg);
      expect(() => statSync(out)).toThrow();
    }
  });

  it("restore: decrypts with --passphrase-file, POSTs the state; 409 and a wrong passphrase exit 1", async () => {
    const file = join(dir, "r.json");
    writeFileSync(file, JSON.stringify(await encryptBackup({ identity, routingKey }, PASS, FAST)));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "tok2\n");
    let body: unknown = null;
    const f = fake((_u, init) => {
      body = JSON.parse(init.body as string);
      return Response.json({ restored: ["identity", "routing key"] });
    });
    const args = ["--relay", "http://127.0.0.1:8787", "--token-file", tokenFile, "--in", file, "--passphrase-file", passFile];
    expect(await runRestore(args, f.io)).toBe(0);
    expect(f.calls[0]!.url).toBe("http://127.0.0.1:8787/admin/identity/restore");
    expect((f.calls[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer tok2");
    expect(body).toEqual(stateToJson({ identity, routingKey }));

    const conflict = fake(() => Response.json({ error: "the relay already has its identity" }, { status: 409 }));
    expect(await runRestore(args, conflict.io)).toBe(1);
    expect(conflict.err.join("")).toContain("already has its identity");

    const wrong = fake(() => Response.json({}), [`${PASS}!`]);
    expect(await runRestore(["--relay", "https://x.example", "--token", "t", "--in", file], wrong.io)).toBe(1);
    expect(wrong.err.join("")).toContain("wrong passphrase");
    expect(wrong.calls).toEqual([]);

    const notJson = join(dir, "nj.json");
    writeFileSync(notJson, "hello");
    const nj = fake(() => Response.json({}), [PASS]);
    expect(await runRestore(["--relay", "https://x.example", "--token", "t", "--in", notJson], nj.io)).toBe(1);
    expect(nj.calls).toEqual([]);
  });
});
