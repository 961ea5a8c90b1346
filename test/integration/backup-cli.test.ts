// `smp-relay backup` and `restore` against a live relay behind ADMIN_TOKEN (the restore into an
// emptied Identity object is tested inside workerd: test/worker/identity-backup.test.ts).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup, runRestore, type BackupIo } from "../../src/cli/backup.js";
import { startLocalTestRelay, type TestRelay } from "../helpers/localRelay.js";

const TOKEN = "test-admin-token-0123456789";
let relay: TestRelay;
let dir: string;

beforeAll(async () => {
  relay = await startLocalTestRelay({ vars: { ADMIN_TOKEN: TOKEN } });
  dir = mkdtempSync(join(tmpdir(), "smp-backup-cli-"));
});

afterAll(async () => {
  await relay?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function io(): BackupIo & { output(): string } {
  let out = "";
  return {
    out: (s) => (out += s),
    err: (s) => (out += s),
    fetch: (url, init) => fetch(url, init),
    readPassphrase: () => Promise.reject(new Error("no terminal in tests")),
    output: () => out,
  };
}

describe("smp-relay backup / restore", () => {
  it("backs up the relay's identity encrypted, and restore refuses a relay that already has one", async () => {
    const pass = join(dir, "pass.txt");
    writeFileSync(pass, "correct horse battery staple\n");
    const file = join(dir, "backup.json");
    const b = io();
    expect(await runBackup(["--relay", relay.httpUrl, "--token", TOKEN, "--out", file, "--passphrase-file", pass], b), b.output()).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(file, "utf8")) as { format: string; kdf: { name: string }; ciphertext: string };
    expect(doc.format).toBe("smp-relay-backup");
    expect(doc.kdf.name).toBe("PBKDF2-SHA256");
    // Nothing of the identity in the clear.
    expect(readFileSync(file, "utf8")).not.toMatch(/BEGIN|ed25519:/);

    const wrongToken = io();
    expect(await runBackup(["--relay", relay.httpUrl, "--token", "not-it", "--out", join(dir, "other.json"), "--passphrase-file", pass], wrongToken)).toBe(1);

    const r = io();
    expect(await runRestore(["--relay", relay.httpUrl, "--token", TOKEN, "--in", file, "--passphrase-file", pass], r)).toBe(1);
    expect(r.output()).toMatch(/409|already/i);
  });
});
