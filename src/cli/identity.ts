// `smp-relay identity`: the relay identity with the CA key kept offline. Creates the CA key and
// certificate on this machine (the key goes to a 0600 file and nowhere else) plus an online key
// and certificate, and prints the three secrets the relay needs (identitySecrets.ts). `rotate`
// issues a new online key and certificate from the kept CA key: the CA certificate, and so the
// keyHash and the relay's address, stay the same, and so does the host the online certificate
// names (read from the previous one) unless --host says otherwise.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { base64, base64url } from "../protocol/base64.js";
import { ParseError, concatBytes, equalBytes } from "../protocol/encoding.js";
import { encodePublicKey } from "../crypto/keys.js";
import { generateSigningKey, publicKeyOf, type SignatureAlgorithm, type SigningKey } from "../crypto/signing.js";
import { certificateCommonName, certificatePublicKey, createOnlineCertificate, verifyCertificateSignature } from "../crypto/x509.js";
import { ConfigError } from "../server/config.js";
import { generateIdentity, keyHashOf, type RelayIdentity } from "../server/identity.js";
import {
  IDENTITY_SECRETS,
  decodeCertificateSecret,
  encodeRoutingKeySecret,
  identityFromSecrets,
  identitySecretValues,
  type IdentitySecretValues,
} from "../server/identitySecrets.js";
import { randomBytes } from "../crypto/random.js";
import { parseDotenv, updateDotenv } from "./dotenv.js";

export const CA_KEY_FILE = "ca-key.pem";
export const CA_CERT_FILE = "ca-cert.pem";
/** The latest online certificate (public), next to the CA: where rotate finds the host to keep. */
export const ONLINE_CERT_FILE = "online-cert.pem";
export const DEFAULT_OUT_DIR = "relay-identity";
/** Common name of the online certificate when no --host is given (clients do not check it). */
export const DEFAULT_HOST = "smp-relay";

export class CliError extends Error {
  override readonly name = "CliError";
}

// ---- PEM files: the CA key as PKCS#8 and the CA certificate, both readable by openssl ----

const PKCS8_PREFIX: Record<SignatureAlgorithm, Uint8Array> = {
  ed25519: Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]),
  ed448: Uint8Array.from([0x30, 0x47, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x04, 0x3b, 0x04, 0x39]),
};

export function pem(label: string, der: Uint8Array): string {
  const b64 = base64.encode(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export function unpem(label: string, text: string, what: string): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(text);
  if (!m) throw new CliError(`${what}: no PEM ${label} block`);
  try {
    return base64.decode((m[1] as string).replace(/\s+/g, ""));
  } catch (e) {
    throw new CliError(`${what}: the PEM block is not base64 (${(e as Error).message})`);
  }
}

export function encodePkcs8(k: SigningKey): Uint8Array {
  return concatBytes(PKCS8_PREFIX[k.alg], k.seed);
}

export function decodePkcs8(der: Uint8Array, what: string): SigningKey {
  for (const alg of ["ed25519", "ed448"] as const) {
    const prefix = PKCS8_PREFIX[alg];
    if (der.length === prefix.length + (alg === "ed25519" ? 32 : 57) && equalBytes(der.subarray(0, prefix.length), prefix)) {
      return { alg, seed: der.slice(prefix.length) };
    }
  }
  throw new CliError(`${what}: not an Ed25519 or Ed448 PKCS#8 private key`);
}

// ---- the operations ----

export interface CreatedIdentity {
  identity: RelayIdentity;
  secrets: IdentitySecretValues;
  caKeyPath: string;
  caCertPath: string;
}

/**
 * Creates a new identity: writes the CA key (mode 0600) and certificate into `outDir`, which
 * must not already hold them; returns the identity and the relay's secrets.
 */
export async function createIdentity(opts: { outDir: string; host?: string; alg?: SignatureAlgorithm }): Promise<CreatedIdentity> {
  const caKeyPath = join(opts.outDir, CA_KEY_FILE);
  const caCertPath = join(opts.outDir, CA_CERT_FILE);
  for (const p of [caKeyPath, caCertPath]) {
    if (existsSync(p)) throw new CliError(`${p} already exists: not overwriting an identity (choose another --out, or rotate with --ca ${opts.outDir})`);
  }
  const { identity, caKey } = await generateIdentity(opts.host ?? DEFAULT_HOST, opts.alg ?? "ed25519");
  const secrets = identitySecretValues(identity);
  await checkSecrets(secrets);
  mkdirSync(opts.outDir, { recursive: true, mode: 0o700 });
  // "wx" (O_EXCL): even a file that appeared since the check above is never overwritten.
  writeFileSync(caKeyPath, pem("PRIVATE KEY", encodePkcs8(caKey)), { mode: 0o600, flag: "wx" });
  writeFileSync(caCertPath, pem("CERTIFICATE", identity.caCert), { mode: 0o644, flag: "wx" });
  writeFileSync(join(opts.outDir, ONLINE_CERT_FILE), pem("CERTIFICATE", identity.onlineCert), { mode: 0o644 });
  return { identity, secrets, caKeyPath, caCertPath };
}

/** The CA key and certificate kept in `dir`, checked to belong together. */
export async function readCa(dir: string): Promise<{ caKey: SigningKey; caCert: Uint8Array }> {
  const keyPath = join(dir, CA_KEY_FILE);
  const certPath = join(dir, CA_CERT_FILE);
  for (const p of [keyPath, certPath]) {
    if (!existsSync(p)) throw new CliError(`${p} not found (--ca takes the directory smp-relay identity wrote)`);
  }
  const caKey = decodePkcs8(unpem("PRIVATE KEY", readFileSync(keyPath, "utf8"), keyPath), keyPath);
  const caCert = unpem("CERTIFICATE", readFileSync(certPath, "utf8"), certPath);
  let certKey;
  try {
    certKey = certificatePublicKey(caCert);
  } catch (e) {
    if (e instanceof ParseError) throw new CliError(`${certPath}: not a certificate with an Ed25519 or Ed448 key (${e.message})`);
    throw e;
  }
  if (!equalBytes(encodePublicKey(certKey), encodePublicKey(await publicKeyOf(caKey)))) {
    throw new CliError(`${keyPath} is not the key of ${certPath}`);
  }
  return { caKey, caCert };
}

export interface RotatedIdentity {
  identity: RelayIdentity;
  secrets: IdentitySecretValues;
  /** The host the new online certificate names, and where it came from. */
  host: string;
  hostFrom: "--host" | "previous certificate" | "default";
}

/**
 * A new online key and certificate from the CA kept in `caDir`; same CA certificate, same keyHash.
 * Without `host`, the new certificate names the host of `previousCert` (the online certificate in
 * use, e.g. RELAY_ONLINE_CERT of a .dev.vars), else of `caDir`/online-cert.pem; only one that
 * this CA issued counts. The new certificate is written to `caDir`/online-cert.pem.
 */
export async function rotateIdentity(opts: { caDir: string; host?: string; previousCert?: Uint8Array }): Promise<RotatedIdentity> {
  const { caKey, caCert } = await readCa(opts.caDir);
  const onlineCertPath = join(opts.caDir, ONLINE_CERT_FILE);
  let host: string | null = opts.host ?? null;
  let hostFrom: RotatedIdentity["hostFrom"] = "--host";
  if (host === null) {
    const candidates = [opts.previousCert, existsSync(onlineCertPath) ? unpem("CERTIFICATE", readFileSync(onlineCertPath, "utf8"), onlineCertPath) : undefined];
    for (const cert of candidates) {
      host = cert ? await issuedHost(cert, caCert) : null;
      if (host !== null) break;
    }
    hostFrom = host === null ? "default" : "previous certificate";
  }
  // The online key uses the CA's algorithm, as generateIdentity does.
  const onlineKey = await generateSigningKey(caKey.alg);
  const onlineCert = await createOnlineCertificate(caKey, caCert, await publicKeyOf(onlineKey), host ?? DEFAULT_HOST);
  const identity: RelayIdentity = { caCert, onlineCert, onlineKey, keyHash: await keyHashOf(caCert) };
  const secrets = identitySecretValues(identity);
  await checkSecrets(secrets);
  writeFileSync(onlineCertPath, pem("CERTIFICATE", onlineCert), { mode: 0o644 });
  return { identity, secrets, host: host ?? DEFAULT_HOST, hostFrom };
}

/** The host an online certificate names, if `caCert` issued it and the name is a host. */
async function issuedHost(cert: Uint8Array, caCert: Uint8Array): Promise<string | null> {
  try {
    if (!(await verifyCertificateSignature(cert, certificatePublicKey(caCert)))) return null;
    const cn = certificateCommonName(cert);
    return cn !== null && HOST_PATTERN.test(cn) ? cn : null;
  } catch (e) {
    if (e instanceof ParseError) return null;
    throw e;
  }
}

const HOST_PATTERN = /^[A-Za-z0-9.-]+(:\d+)?$/;

/** RELAY_ONLINE_CERT of a .dev.vars file, if it has a readable one. */
function previousOnlineCert(path: string): Uint8Array | undefined {
  if (!existsSync(path)) return undefined;
  const value = parseDotenv(readFileSync(path, "utf8")).RELAY_ONLINE_CERT;
  if (!value) return undefined;
  try {
    return decodeCertificateSecret("RELAY_ONLINE_CERT", value);
  } catch (e) {
    if (e instanceof ConfigError) return undefined;
    throw e;
  }
}

/** The relay's own validation of the values, so what we print is what it accepts. */
async function checkSecrets(secrets: IdentitySecretValues): Promise<void> {
  try {
    await identityFromSecrets(secrets);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`internal error, the relay would refuse these secrets: ${e.message}`);
    throw e;
  }
}

/** Writes (or replaces) the three secrets in a .dev.vars file, mode 0600. */
export function writeDevVars(path: string, secrets: IdentitySecretValues): void {
  const before = existsSync(path) ? readFileSync(path, "utf8") : "";
  writeFileSync(path, updateDotenv(before, secrets, "Relay identity (npx smp-relay identity); the CA private key is not here"), { mode: 0o600 });
  chmodSync(path, 0o600); // also when the file was there before
}

// ---- output ----

function address(keyHash: Uint8Array, host: string | undefined): string {
  return `smp://${base64url.encode(keyHash)}@${host ?? "<your relay's host, e.g. smp-relay.<account>.workers.dev>"}`;
}

function secretsText(secrets: IdentitySecretValues | null): string[] {
  return [
    ...(secrets === null
      ? ["The secrets for the relay (it never receives the CA private key) are the JSON on stdout."]
      : ["Secrets for the relay (it never receives the CA private key):", "", ...IDENTITY_SECRETS.map((n) => `  ${n}=${secrets[n]}`)]),
    "",
    "Set all three on the Worker in one step (the relay refuses to serve while only some of them match):",
    "  npx wrangler secret bulk FILE     (FILE: JSON {\"RELAY_CA_CERT\": \"…\", …}, or pipe --json output into it)",
    "or one at a time, pasting each value when asked:",
    ...IDENTITY_SECRETS.map((n) => `  npx wrangler secret put ${n}`),
    "Locally, `npm run dev` reads them from .dev.vars (--dev-vars writes them there).",
  ];
}

/** What `identity` prints; without the secret values when they go to stdout as JSON. */
export function createdText(c: CreatedIdentity, host: string | undefined, withSecrets = true): string {
  return [
    `Created a relay identity (${c.identity.onlineKey.alg}).`,
    "",
    `  CA private key:  ${c.caKeyPath}   (mode 0600; keep it offline: only rotation needs it)`,
    `  CA certificate:  ${c.caCertPath}`,
    `  keyHash:         ${base64url.encode(c.identity.keyHash)}`,
    `  address:         ${address(c.identity.keyHash, host)}`,
    "",
    ...secretsText(withSecrets ? c.secrets : null),
    "",
  ].join("\n");
}

export function rotatedText(r: RotatedIdentity, caDir: string, withSecrets = true): string {
  const hostNote = { "--host": "from --host", "previous certificate": "kept from the previous certificate", default: "no previous certificate found; use --host" }[r.hostFrom];
  return [
    `Issued a new online key and certificate from the CA in ${caDir}.`,
    "",
    `  keyHash (unchanged):  ${base64url.encode(r.identity.keyHash)}`,
    `  host:                 ${r.host}   (${hostNote})`,
    `  address (unchanged):  ${address(r.identity.keyHash, r.hostFrom === "default" ? undefined : r.host)}`,
    "",
    "RELAY_CA_CERT is the same as before; RELAY_ONLINE_CERT and RELAY_ONLINE_KEY are new.",
    ...secretsText(withSecrets ? r.secrets : null),
    "",
  ].join("\n");
}

export const USAGE = `Usage:
  smp-relay identity [--host HOST] [--out DIR] [--alg ed25519|ed448] [--dev-vars | --dev-vars-file FILE] [--json]
      Creates a CA key and certificate (written to DIR, default ./${DEFAULT_OUT_DIR}/, the key with
      mode 0600; never overwrites) and an online key and certificate, and prints the secrets
      RELAY_CA_CERT, RELAY_ONLINE_CERT and RELAY_ONLINE_KEY for the relay.
  smp-relay identity rotate --ca DIR [--host HOST] [--dev-vars | --dev-vars-file FILE] [--json]
      Issues a new online key and certificate from the CA kept in DIR: same CA certificate,
      same keyHash, same address. The certificate keeps the host of the previous one (the
      RELAY_ONLINE_CERT of the --dev-vars file, else DIR/${ONLINE_CERT_FILE}) unless --host is given.
  smp-relay identity --routing-key
      Prints a fresh value for the RELAY_ROUTING_KEY secret (32 random bytes, base64url): the key
      that seals queue ids, kept by you instead of by the relay's Identity object. Set it only on a
      new relay, or to the key the relay already uses (a backup holds it): another key orphans
      every queue.

Options:
  --host HOST          the relay's host, for the online certificate and the printed address
  --dev-vars           also write the secrets to ./.dev.vars (for npm run dev); --dev-vars-file FILE elsewhere
  --json               print only the secrets as JSON on stdout (for \`| npx wrangler secret bulk\`),
                       the rest on stderr
`;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: "string" },
        out: { type: "string" },
        alg: { type: "string" },
        ca: { type: "string" },
        "dev-vars": { type: "boolean" },
        "dev-vars-file": { type: "string" },
        json: { type: "boolean" },
        "routing-key": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    io.err(`smp-relay: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: o, positionals } = parsed;
  if (o.help) {
    io.out(USAGE);
    return 0;
  }
  const [command, sub, ...extra] = positionals;
  const usage = (msg: string): number => {
    io.err(`smp-relay: ${msg}\n\n${USAGE}`);
    return 2;
  };
  if (command !== "identity") return usage(command === undefined ? "missing command" : `unknown command "${command}"`);
  if (o["routing-key"]) {
    if (sub !== undefined || argv.length !== 2) return usage("--routing-key takes no other argument");
    io.out(`${encodeRoutingKeySecret(randomBytes(32))}\n`);
    return 0;
  }
  if (extra.length > 0 || (sub !== undefined && sub !== "rotate")) return usage(`unexpected argument "${sub === "rotate" ? extra[0] : sub}"`);
  if (o.host !== undefined && !HOST_PATTERN.test(o.host)) return usage(`--host "${o.host}" is not a host name (with an optional :port)`);
  const devVars = o["dev-vars-file"] ?? (o["dev-vars"] ? ".dev.vars" : undefined);
  const info = o.json ? io.err : io.out;
  try {
    let secrets: IdentitySecretValues;
    if (sub === "rotate") {
      if (o.ca === undefined) return usage("rotate needs --ca DIR, the directory holding ca-key.pem and ca-cert.pem");
      if (o.out !== undefined || o.alg !== undefined) return usage("rotate takes no --out or --alg: the CA decides both");
      const r = await rotateIdentity({ caDir: o.ca, host: o.host, previousCert: devVars === undefined ? undefined : previousOnlineCert(devVars) });
      secrets = r.secrets;
      info(rotatedText(r, o.ca, !o.json));
    } else {
      if (o.ca !== undefined) return usage("--ca is for rotate (smp-relay identity rotate --ca DIR)");
      if (o.alg !== undefined && o.alg !== "ed25519" && o.alg !== "ed448") return usage(`--alg must be ed25519 or ed448, got "${o.alg}"`);
      const c = await createIdentity({ outDir: o.out ?? DEFAULT_OUT_DIR, host: o.host, alg: o.alg as SignatureAlgorithm | undefined });
      secrets = c.secrets;
      info(createdText(c, o.host, !o.json));
    }
    if (devVars !== undefined) {
      writeDevVars(devVars, secrets);
      info(`Wrote the three secrets to ${devVars}.\n`);
    }
    if (o.json) io.out(JSON.stringify(secrets, null, 2) + "\n");
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`smp-relay: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
