// `smp-relay identity` (src/cli/identity.ts) and the relay's reading of the identity secrets
// (src/server/identitySecrets.ts): creation, rotation, files, and a clear error for every way a
// secret can be wrong. Also the pieces of `npm run dev` that read and check the environment.
import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  CA_CERT_FILE,
  CA_KEY_FILE,
  CliError,
  createIdentity,
  DEFAULT_HOST,
  main,
  ONLINE_CERT_FILE,
  readCa,
  rotateIdentity,
  writeDevVars,
} from "../../src/cli/identity.js";
import { parseDotenv, updateDotenv } from "../../src/cli/dotenv.js";
import { base64, base64url } from "../../src/protocol/base64.js";
import { publicKeyOf } from "../../src/crypto/signing.js";
import { certificateCommonName, verifyCertificateSignature } from "../../src/crypto/x509.js";
import { ConfigError } from "../../src/server/config.js";
import { generateIdentity } from "../../src/server/identity.js";
import {
  encodeSigningKeySecret,
  hasIdentitySecrets,
  identityFromSecrets,
  identitySecretValues,
  type IdentitySecretValues,
} from "../../src/server/identitySecrets.js";
import { checkDevVars, devVars, parseDevArgs } from "../../scripts/devEnv.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "smp-relay-cli-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function capture(): { io: { out: (s: string) => void; err: (s: string) => void }; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return { io: { out: (s) => (out += s), err: (s) => (err += s) }, out: () => out, err: () => err };
}

/** The ConfigError message identityFromSecrets throws for these values. */
async function secretError(values: Partial<IdentitySecretValues>): Promise<string> {
  try {
    await identityFromSecrets(values);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("identityFromSecrets accepted the values");
}

function pemOf(label: string, der: Uint8Array): string {
  return `-----BEGIN ${label}-----\n${(base64.encode(der).match(/.{1,64}/g) ?? []).join("\n")}\n-----END ${label}-----\n`;
}

describe("smp-relay identity: create", () => {
  it("writes the CA key (0600) and certificate, and prints secrets the relay accepts with the same keyHash", async () => {
    const dir = join(tempDir(), "id");
    const c = await createIdentity({ outDir: dir, host: "relay.example" });
    expect(statSync(join(dir, CA_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, CA_KEY_FILE), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(readFileSync(join(dir, CA_CERT_FILE), "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----\n/);

    const fromSecrets = await identityFromSecrets(c.secrets);
    expect(fromSecrets?.keyHash).toEqual(c.identity.keyHash);
    expect(fromSecrets?.onlineCert).toEqual(c.identity.onlineCert);
    expect(Object.keys(c.secrets).sort()).toEqual(["RELAY_CA_CERT", "RELAY_ONLINE_CERT", "RELAY_ONLINE_KEY"]);

    // The CA private key is in the file and nowhere in the secrets.
    const { caKey } = await readCa(dir);
    const caSeed = base64url.encode(caKey.seed);
    for (const v of Object.values(c.secrets)) expect(v).not.toContain(caSeed);
    expect(c.secrets.RELAY_ONLINE_KEY).not.toBe(encodeSigningKeySecret(caKey));
  });

  it.each(["ed25519", "ed448"] as const)("writes files OpenSSL reads: the PKCS#8 key is the CA certificate's key (%s)", async (alg) => {
    const dir = tempDir();
    await createIdentity({ outDir: dir, alg });
    // node:crypto parses both PEM files with OpenSSL, as the openssl CLI would.
    const key = createPrivateKey(readFileSync(join(dir, CA_KEY_FILE), "utf8"));
    const cert = new X509Certificate(readFileSync(join(dir, CA_CERT_FILE), "utf8"));
    expect(key.asymmetricKeyType).toBe(alg);
    const pub = createPublicKey(key).export({ type: "spki", format: "pem" });
    expect(pub).toContain("BEGIN PUBLIC KEY");
    expect(cert.publicKey.export({ type: "spki", format: "pem" })).toBe(pub);
    expect(cert.checkPrivateKey(key)).toBe(true);
  });

  it("refuses to overwrite an existing identity, leaving its files as they were", async () => {
    const dir = tempDir();
    await createIdentity({ outDir: dir });
    const key = readFileSync(join(dir, CA_KEY_FILE), "utf8");
    const cert = readFileSync(join(dir, CA_CERT_FILE), "utf8");
    await expect(createIdentity({ outDir: dir })).rejects.toThrow(/ca-key\.pem already exists: not overwriting/);
    expect(readFileSync(join(dir, CA_KEY_FILE), "utf8")).toBe(key);
    expect(readFileSync(join(dir, CA_CERT_FILE), "utf8")).toBe(cert);

    // Even the certificate alone blocks it.
    const other = tempDir();
    writeFileSync(join(other, CA_CERT_FILE), "x");
    await expect(createIdentity({ outDir: other })).rejects.toBeInstanceOf(CliError);
  });

  it("makes Ed448 identities too", async () => {
    const dir = tempDir();
    const c = await createIdentity({ outDir: dir, alg: "ed448" });
    expect(c.secrets.RELAY_ONLINE_KEY).toMatch(/^ed448:/);
    expect((await identityFromSecrets(c.secrets))?.keyHash).toEqual(c.identity.keyHash);
    const r = await rotateIdentity({ caDir: dir });
    expect(r.identity.onlineKey.alg).toBe("ed448");
    expect(r.identity.keyHash).toEqual(c.identity.keyHash);
  });
});

describe("smp-relay identity rotate", () => {
  it("keeps the CA certificate and keyHash, issues a new online key and certificate under the same CA", async () => {
    const dir = tempDir();
    const c = await createIdentity({ outDir: dir });
    const r = await rotateIdentity({ caDir: dir, host: "relay.example" });
    expect(r.secrets.RELAY_CA_CERT).toBe(c.secrets.RELAY_CA_CERT);
    expect(r.identity.keyHash).toEqual(c.identity.keyHash);
    expect(r.secrets.RELAY_ONLINE_CERT).not.toBe(c.secrets.RELAY_ONLINE_CERT);
    expect(r.secrets.RELAY_ONLINE_KEY).not.toBe(c.secrets.RELAY_ONLINE_KEY);
    const { caKey } = await readCa(dir);
    expect(await verifyCertificateSignature(r.identity.onlineCert, await publicKeyOf(caKey))).toBe(true);
    expect((await identityFromSecrets(r.secrets))?.keyHash).toEqual(c.identity.keyHash);
    // The old online key does not go with the new certificate.
    expect(await secretError({ ...r.secrets, RELAY_ONLINE_KEY: c.secrets.RELAY_ONLINE_KEY })).toBe(
      "RELAY_ONLINE_KEY: does not match RELAY_ONLINE_CERT (it is not the key the online certificate was issued for)",
    );
  });

  it("keeps the host of the previous online certificate unless --host is given", async () => {
    const dir = tempDir();
    const c = await createIdentity({ outDir: dir, host: "relay.example" });
    expect(certificateCommonName(c.identity.onlineCert)).toBe("relay.example");
    const kept = await rotateIdentity({ caDir: dir });
    expect(kept).toMatchObject({ host: "relay.example", hostFrom: "previous certificate" });
    expect(certificateCommonName(kept.identity.onlineCert)).toBe("relay.example");
    expect(readFileSync(join(dir, ONLINE_CERT_FILE), "utf8")).toBe(pemOf("CERTIFICATE", kept.identity.onlineCert));

    const moved = await rotateIdentity({ caDir: dir, host: "new.example:8443" });
    expect(moved).toMatchObject({ host: "new.example:8443", hostFrom: "--host" });
    expect(certificateCommonName(moved.identity.onlineCert)).toBe("new.example:8443");
    expect(certificateCommonName((await rotateIdentity({ caDir: dir })).identity.onlineCert)).toBe("new.example:8443");

    // The certificate in use (e.g. from .dev.vars) comes first; one another CA issued does not count.
    const used = await rotateIdentity({ caDir: dir, previousCert: c.identity.onlineCert });
    expect(certificateCommonName(used.identity.onlineCert)).toBe("relay.example");
    const foreign = (await generateIdentity("foreign.example")).identity.onlineCert;
    rmSync(join(dir, ONLINE_CERT_FILE));
    const fallback = await rotateIdentity({ caDir: dir, previousCert: foreign });
    expect(fallback).toMatchObject({ host: DEFAULT_HOST, hostFrom: "default" });
    expect(certificateCommonName(fallback.identity.onlineCert)).toBe(DEFAULT_HOST);
  });

  it("explains a missing or inconsistent CA directory", async () => {
    const empty = tempDir();
    await expect(rotateIdentity({ caDir: empty })).rejects.toThrow(/ca-key\.pem not found/);
    const a = tempDir();
    const b = tempDir();
    await createIdentity({ outDir: a });
    await createIdentity({ outDir: b });
    writeFileSync(join(a, CA_CERT_FILE), readFileSync(join(b, CA_CERT_FILE)));
    await expect(rotateIdentity({ caDir: a })).rejects.toThrow(/ca-key\.pem is not the key of .*ca-cert\.pem/);
    writeFileSync(join(a, CA_KEY_FILE), "not a pem");
    await expect(rotateIdentity({ caDir: a })).rejects.toThrow(/no PEM PRIVATE KEY block/);
  });
});

describe("smp-relay CLI (main)", () => {
  it("creates, writes .dev.vars, and rotates into the same .dev.vars keeping other lines", async () => {
    const dir = tempDir();
    const devVarsPath = join(dir, ".dev.vars");
    writeFileSync(devVarsPath, "QUEUE_PASSWORD=secret1\n");
    const c1 = capture();
    expect(await main(["identity", "--out", join(dir, "id"), "--host", "relay.example", "--dev-vars-file", devVarsPath], c1.io)).toBe(0);
    expect(c1.out()).toMatch(/keyHash: +[A-Za-z0-9_-]{43}\n/);
    expect(c1.out()).toMatch(/address: +smp:\/\/[A-Za-z0-9_-]{43}@relay\.example\n/);
    for (const n of ["RELAY_CA_CERT", "RELAY_ONLINE_CERT", "RELAY_ONLINE_KEY"]) {
      expect(c1.out()).toContain(`npx wrangler secret put ${n}\n`);
      expect(c1.out()).toMatch(new RegExp(`  ${n}=\\S+\n`));
    }
    const keyHash = /keyHash: +(\S+)/.exec(c1.out())![1];
    const first = parseDotenv(readFileSync(devVarsPath, "utf8"));
    expect(first.QUEUE_PASSWORD).toBe("secret1");
    expect(base64url.encode((await identityFromSecrets(first))!.keyHash)).toBe(keyHash);
    expect(statSync(devVarsPath).mode & 0o777).toBe(0o600);

    const c2 = capture();
    expect(await main(["identity", "rotate", "--ca", join(dir, "id"), "--dev-vars-file", devVarsPath, "--json"], c2.io)).toBe(0);
    const json = JSON.parse(c2.out()) as IdentitySecretValues;
    expect(c2.err()).toContain(`keyHash (unchanged):  ${keyHash}`);
    expect(c2.err()).not.toContain(json.RELAY_ONLINE_KEY); // --json: the values only on stdout
    const second = parseDotenv(readFileSync(devVarsPath, "utf8"));
    expect(second).toEqual({ QUEUE_PASSWORD: "secret1", ...json });
    expect(second.RELAY_CA_CERT).toBe(first.RELAY_CA_CERT);
    expect(second.RELAY_ONLINE_CERT).not.toBe(first.RELAY_ONLINE_CERT);
    expect(readFileSync(devVarsPath, "utf8").match(/RELAY_ONLINE_KEY=/g)).toHaveLength(1);
    // No --host: the host of the certificate in .dev.vars (and of id/online-cert.pem) is kept.
    expect(c2.err()).toContain("host:                 relay.example   (kept from the previous certificate)");
    expect(c2.err()).toMatch(/address \(unchanged\): +smp:\/\/[A-Za-z0-9_-]{43}@relay\.example\n/);
    expect(certificateCommonName(base64url.decode(second.RELAY_ONLINE_CERT!))).toBe("relay.example");
  });

  it("rotate without --host reads the host from the --dev-vars file when the CA directory has no online certificate", async () => {
    const dir = tempDir();
    const devVarsPath = join(dir, ".dev.vars");
    expect(await main(["identity", "--out", join(dir, "id"), "--host", "a.example", "--dev-vars-file", devVarsPath], capture().io)).toBe(0);
    rmSync(join(dir, "id", ONLINE_CERT_FILE)); // as made before online-cert.pem existed
    const c = capture();
    expect(await main(["identity", "rotate", "--ca", join(dir, "id"), "--dev-vars-file", devVarsPath], c.io)).toBe(0);
    expect(c.out()).toContain("(kept from the previous certificate)");
    expect(certificateCommonName(base64url.decode(parseDotenv(readFileSync(devVarsPath, "utf8")).RELAY_ONLINE_CERT!))).toBe("a.example");

    rmSync(join(dir, "id", ONLINE_CERT_FILE));
    const none = capture();
    expect(await main(["identity", "rotate", "--ca", join(dir, "id")], none.io)).toBe(0);
    expect(none.out()).toContain(`host:                 ${DEFAULT_HOST}   (no previous certificate found; use --host)`);
  });

  it("answers usage errors with exit code 2 and refusals with 1", async () => {
    const dir = tempDir();
    const cases: [string[], number, RegExp][] = [
      [[], 2, /missing command/],
      [["idenity"], 2, /unknown command "idenity"/],
      [["identity", "--alg", "rsa"], 2, /--alg must be ed25519 or ed448/],
      [["identity", "--bogus"], 2, /Unknown option '--bogus'/],
      [["identity", "rotate"], 2, /rotate needs --ca DIR/],
      [["identity", "rotate", "--ca", dir, "--alg", "ed448"], 2, /rotate takes no --out or --alg/],
      [["identity", "--ca", dir], 2, /--ca is for rotate/],
      [["identity", "rotat", "--ca", dir], 2, /unexpected argument "rotat"/],
      [["identity", "--host", "a b"], 2, /--host "a b" is not a host name/],
      [["identity", "rotate", "--ca", dir], 1, /ca-key\.pem not found/],
    ];
    for (const [argv, code, message] of cases) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(" ")).toBe(code);
      expect(c.err(), argv.join(" ")).toMatch(message);
    }
    const c = capture();
    expect(await main(["identity", "--out", dir], c.io)).toBe(0);
    const again = capture();
    expect(await main(["identity", "--out", dir], again.io)).toBe(1);
    expect(again.err()).toMatch(/already exists: not overwriting/);
    const help = capture();
    expect(await main(["--help"], help.io)).toBe(0);
    expect(help.out()).toContain("smp-relay identity rotate --ca DIR");
  });

  it("runs as the package's bin through tsx", () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, "../../bin/smp-relay.js"), "--help"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("smp-relay identity");
  });
});

describe("identity secrets", () => {
  it("none set (or only empty values) means the relay keeps its own identity", async () => {
    expect(await identityFromSecrets({})).toBeNull();
    expect(await identityFromSecrets({ RELAY_CA_CERT: "", RELAY_ONLINE_CERT: " ", RELAY_ONLINE_KEY: "" })).toBeNull();
    expect(hasIdentitySecrets({ RELAY_CA_CERT: "" })).toBe(false);
    expect(hasIdentitySecrets({ RELAY_ONLINE_KEY: "x" })).toBe(true);
  });

  it("accepts PEM and standard base64 certificates and surrounding whitespace", async () => {
    const { identity } = await generateIdentity("h");
    const s = identitySecretValues(identity);
    const id = await identityFromSecrets({
      RELAY_CA_CERT: pemOf("CERTIFICATE", identity.caCert),
      RELAY_ONLINE_CERT: ` ${base64.encode(identity.onlineCert)}\n`,
      RELAY_ONLINE_KEY: `${s.RELAY_ONLINE_KEY}\n`,
    });
    expect(id?.keyHash).toEqual(identity.keyHash);
  });

  it("names the secret and says why, for every malformed case", async () => {
    const { identity, caKey } = await generateIdentity("h");
    const other = await generateIdentity("h");
    const good = identitySecretValues(identity);
    const seed = base64url.encode(identity.onlineKey.seed);
    const truncated = good.RELAY_ONLINE_CERT.slice(0, good.RELAY_ONLINE_CERT.length - (good.RELAY_ONLINE_CERT.length % 4) - 20);
    const cases: [Partial<IdentitySecretValues>, string | RegExp][] = [
      [{ RELAY_CA_CERT: good.RELAY_CA_CERT }, /^RELAY_ONLINE_CERT: not set, while RELAY_CA_CERT is: set all three identity secrets/],
      [{ ...good, RELAY_ONLINE_KEY: "" }, /^RELAY_ONLINE_KEY: not set, while RELAY_CA_CERT and RELAY_ONLINE_CERT are/],
      [{ ...good, RELAY_CA_CERT: "not*base64" }, /^RELAY_CA_CERT: not base64url DER or a PEM certificate \(bad base64 character\)/],
      [{ ...good, RELAY_CA_CERT: "AAAA" }, /^RELAY_CA_CERT: not an X.509 certificate with an Ed25519 or Ed448 key/],
      [{ ...good, RELAY_ONLINE_CERT: truncated }, /^RELAY_ONLINE_CERT: not an X.509 certificate/],
      [{ ...good, RELAY_CA_CERT: `"${good.RELAY_CA_CERT}"` }, "RELAY_CA_CERT: starts with a quote; set the value without quotes"],
      [{ ...good, RELAY_CA_CERT: pemOf("PRIVATE KEY", caKey.seed) }, "RELAY_CA_CERT: a PEM PRIVATE KEY block, expected a CERTIFICATE"],
      [{ ...good, RELAY_CA_CERT: "-----BEGIN CERTIFICATE-----\nAAAA\n" }, "RELAY_CA_CERT: a PEM block without its matching END line"],
      [
        { ...good, RELAY_CA_CERT: good.RELAY_ONLINE_CERT, RELAY_ONLINE_CERT: good.RELAY_CA_CERT },
        /^RELAY_CA_CERT: not a self-signed CA certificate \(is it the online certificate\? RELAY_CA_CERT and RELAY_ONLINE_CERT may be swapped\)/,
      ],
      [{ ...good, RELAY_ONLINE_CERT: good.RELAY_CA_CERT }, /^RELAY_ONLINE_CERT: is the CA certificate/],
      [{ ...good, RELAY_CA_CERT: base64url.encode(other.identity.caCert) }, /^RELAY_ONLINE_CERT: not issued by RELAY_CA_CERT/],
      [{ ...good, RELAY_ONLINE_KEY: identitySecretValues(other.identity).RELAY_ONLINE_KEY }, /^RELAY_ONLINE_KEY: does not match RELAY_ONLINE_CERT/],
      [{ ...good, RELAY_ONLINE_KEY: encodeSigningKeySecret(caKey) }, /^RELAY_ONLINE_KEY: is the CA's private key; the relay takes the online key only/],
      [{ ...good, RELAY_ONLINE_KEY: seed }, /^RELAY_ONLINE_KEY: no algorithm prefix; expected "ed25519:<base64url seed>"/],
      [{ ...good, RELAY_ONLINE_KEY: `x25519:${seed}` }, /^RELAY_ONLINE_KEY: unknown algorithm "x25519"/],
      [{ ...good, RELAY_ONLINE_KEY: "ed25519:+++" }, /^RELAY_ONLINE_KEY: the seed is not base64url/],
      [{ ...good, RELAY_ONLINE_KEY: `ed25519:${base64url.encode(identity.onlineKey.seed.slice(1))}` }, "RELAY_ONLINE_KEY: an ed25519 seed is 32 bytes, this one is 31"],
      [{ ...good, RELAY_ONLINE_KEY: `ed448:${seed}` }, "RELAY_ONLINE_KEY: an ed448 seed is 57 bytes, this one is 32"],
      [{ ...good, RELAY_ONLINE_KEY: pemOf("PRIVATE KEY", identity.onlineKey.seed) }, /^RELAY_ONLINE_KEY: a PEM block; expected/],
    ];
    for (const [values, expected] of cases) {
      const message = await secretError(values);
      if (typeof expected === "string") expect(message).toBe(expected);
      else expect(message).toMatch(expected);
    }
  });
});

describe("npm run dev: environment", () => {
  it("parses dotenv files and replaces values in place", () => {
    expect(parseDotenv("# c\nA=1\nexport B = 'two words'\nC=\"x\"\nD=v # note\n\nbad line\n")).toEqual({ A: "1", B: "two words", C: "x", D: "v" });
    expect(updateDotenv("A=1\n# keep\nB=2\n", { B: "3", C: "4" }, "added")).toBe("A=1\n# keep\nB=3\n# added\nC=4\n");
    expect(updateDotenv("", { C: "4" })).toBe("C=4\n");
  });

  it("takes --ip/--port for itself and passes the rest through, noting env files and vars", () => {
    expect(parseDevArgs([])).toMatchObject({ ip: "127.0.0.1", port: 8787, rest: [] });
    const a = parseDevArgs(["--port=9000", "--persist-to", "/tmp/s", "--env-file", "x.env", "--var", "QUEUE_QUOTA:5", "-e", "staging"]);
    expect(a).toMatchObject({ port: 9000, envFiles: ["x.env"], vars: { QUEUE_QUOTA: "5" }, env: "staging" });
    expect(a.rest).toEqual(["--persist-to", "/tmp/s", "--env-file", "x.env", "--var", "QUEUE_QUOTA:5", "--env", "staging"]);
    expect(() => parseDevArgs(["--port", "x"])).toThrow(/--port must be a port number/);
  });

  it("reads wrangler.jsonc vars and an env file the way wrangler dev does, and checks them", async () => {
    const dir = tempDir();
    const { secrets, identity } = await createIdentity({ outDir: join(dir, "id") });
    const envFile = join(dir, "secrets.env");
    writeDevVars(envFile, secrets);
    const vars = devVars({ envFiles: [envFile], vars: { QUEUE_QUOTA: "5" } });
    expect(vars).toMatchObject({ MESSAGE_TTL_SECONDS: "1814400", ALLOW_NEW_QUEUES: "true", QUEUE_QUOTA: "5", ...secrets });
    const checked = await checkDevVars(vars);
    expect(checked.config.queueQuota).toBe(5);
    expect(checked.identity?.keyHash).toEqual(identity.keyHash);

    await expect(checkDevVars({ ...vars, QUEUE_QUOTA: "-1" })).rejects.toThrow(/^QUEUE_QUOTA must be a whole number from 1 to 10000, got "-1"$/);
    await expect(checkDevVars({ ...vars, RELAY_ONLINE_CERT: "" })).rejects.toThrow(/^RELAY_ONLINE_CERT: not set/);
  });
});
