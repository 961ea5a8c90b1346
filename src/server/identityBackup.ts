// Backup of what the Identity object keeps: the relay identity (CA key included, when the relay
// made it) and the routing key that seals queue ids. Losing that object orphans every queue;
// a backup brings both back. Pure (WebCrypto only): the CLI and the Worker both use it.
//
// Two forms:
//   - RelayState, plaintext JSON, what the admin routes exchange (adminIdentity.ts) over TLS,
//     behind the admin token: { format: "smp-relay-state", version: 1, identity, routingKey };
//   - BackupDocument, what the CLI writes to a file: RelayState encrypted with a passphrase.
//
// KDF and AEAD: PBKDF2-HMAC-SHA256 (600,000 iterations, OWASP's current figure for it, 16-byte
// random salt) and AES-256-GCM (12-byte random nonce, the document's header as associated data).
// Why these: they are WebCrypto, built into Node, workerd and browsers, with no new dependency;
// both are standard and well reviewed. A memory-hard KDF (Argon2id, libsodium's pwhash) would
// resist GPU guessing better, but it is not in WebCrypto and our libsodium build has secretbox
// only. The encryption runs in the CLI, on the operator's machine, never on the relay: workerd
// refuses PBKDF2 above 100,000 iterations, and 600,000 would exceed the free plan's CPU limit
// per request anyway; so the passphrase never reaches Cloudflare either.
import { base64url } from "../protocol/base64.js";
import { ParseError, equalBytes } from "../protocol/encoding.js";
import { encodePublicKey } from "../crypto/keys.js";
import { publicKeyOf } from "../crypto/signing.js";
import { certificatePublicKey } from "../crypto/x509.js";
import { randomBytes } from "../crypto/random.js";
import { bs } from "../crypto/bufferSource.js";
import { deserializeIdentity, storedCaKey, type StoredIdentity } from "./identity.js";

export const STATE_FORMAT = "smp-relay-state";
export const BACKUP_FORMAT = "smp-relay-backup";
export const PBKDF2_ITERATIONS = 600_000;
/** What a document may ask for: below, too weak to accept; above, a denial of service. */
export const MIN_ITERATIONS = 100_000;
export const MAX_ITERATIONS = 10_000_000;
export const MIN_PASSPHRASE_LENGTH = 8;
const SALT_SIZE = 16;
const NONCE_SIZE = 12;
const ROUTING_KEY_SIZE = 32;

/** What the Identity object keeps (identity null when the relay's identity comes from the RELAY_* secrets). */
export interface RelayState {
  identity: StoredIdentity | null;
  routingKey: Uint8Array;
  /** SHA-256 of the CA certificate (the address's keyHash), null without an identity. Derived, never trusted. */
  keyHash: Uint8Array | null;
}

export interface RelayStateJson {
  format: typeof STATE_FORMAT;
  version: 1;
  identity: StoredIdentity | null;
  routingKey: string;
}

export interface BackupDocument {
  format: typeof BACKUP_FORMAT;
  version: 1;
  /** The address's keyHash (public; to tell backups apart without the passphrase), or null. Authenticated. */
  keyHash: string | null;
  kdf: { name: "PBKDF2-SHA256"; iterations: number; salt: string };
  cipher: { name: "AES-256-GCM"; nonce: string };
  /** AES-GCM of the RelayStateJson, tag included. */
  ciphertext: string;
}

/** A bad document or state; `kind` says which, for the CLI's and the routes' messages. */
export class BackupError extends Error {
  override readonly name = "BackupError";
  constructor(
    readonly kind: "format" | "passphrase" | "contents",
    message: string,
  ) {
    super(message);
  }
}

export function stateToJson(s: Pick<RelayState, "identity" | "routingKey">): RelayStateJson {
  return { format: STATE_FORMAT, version: 1, identity: s.identity, routingKey: base64url.encode(s.routingKey) };
}

/**
 * Validates a RelayStateJson fully: the format, the routing key's size, the identity record (the
 * online key is the online certificate's, the CA key if present is the CA certificate's).
 * Throws BackupError("contents").
 */
export async function parseRelayState(value: unknown): Promise<RelayState> {
  const v = value as Partial<RelayStateJson> | null;
  const bad = (why: string): BackupError => new BackupError("contents", `not a relay state: ${why}`);
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("not a JSON object");
  if (v.format !== STATE_FORMAT) throw bad(`format is not "${STATE_FORMAT}"`);
  if (v.version !== 1) throw bad(`unknown version ${JSON.stringify(v.version)}`);
  if (typeof v.routingKey !== "string") throw bad("no routingKey");
  let routingKey: Uint8Array;
  try {
    routingKey = base64url.decode(v.routingKey);
  } catch {
    throw bad("routingKey is not base64url");
  }
  if (routingKey.length !== ROUTING_KEY_SIZE) throw bad(`routingKey must be ${ROUTING_KEY_SIZE} bytes, not ${routingKey.length}`);
  if (v.identity === null || v.identity === undefined) return { identity: null, routingKey, keyHash: null };
  try {
    const identity = await deserializeIdentity(v.identity);
    const record = v.identity;
    const caKey = storedCaKey(record);
    if (caKey !== null && !equalBytes(encodePublicKey(await publicKeyOf(caKey)), encodePublicKey(certificatePublicKey(identity.caCert)))) {
      throw new ParseError("the CA key is not the CA certificate's");
    }
    // Only the known fields go on (an unknown one would be stored as it is otherwise).
    const clean: StoredIdentity = {
      version: 1,
      caCert: record.caCert,
      onlineCert: record.onlineCert,
      onlineKey: { alg: record.onlineKey.alg, seed: record.onlineKey.seed },
      ...(record.caKey ? { caKey: { alg: record.caKey.alg, seed: record.caKey.seed } } : {}),
    };
    return { identity: clean, routingKey, keyHash: identity.keyHash };
  } catch (e) {
    if (e instanceof ParseError) throw bad(`identity: ${e.message}`);
    throw e;
  }
}

function checkPassphrase(passphrase: string): Uint8Array {
  const p = passphrase.normalize("NFC");
  if ([...p].length < MIN_PASSPHRASE_LENGTH) {
    throw new BackupError("passphrase", `the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  return new TextEncoder().encode(p);
}

async function deriveKey(passphrase: Uint8Array, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", bs(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt: bs(salt), iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** The associated data: every header field, in a fixed order, so none can be changed unnoticed. */
function header(d: Omit<BackupDocument, "ciphertext">): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify([d.format, d.version, d.keyHash, d.kdf.name, d.kdf.iterations, d.kdf.salt, d.cipher.name, d.cipher.nonce]),
  );
}

/** Encrypts a relay state with a passphrase (at least MIN_PASSPHRASE_LENGTH characters). */
export async function encryptBackup(
  state: Pick<RelayState, "identity" | "routingKey">,
  passphrase: string,
  opts: { iterations?: number } = {},
): Promise<BackupDocument> {
  const pass = checkPassphrase(passphrase);
  const checked = await parseRelayState(stateToJson(state));
  const iterations = opts.iterations ?? PBKDF2_ITERATIONS;
  const salt = randomBytes(SALT_SIZE);
  const nonce = randomBytes(NONCE_SIZE);
  const head: Omit<BackupDocument, "ciphertext"> = {
    format: BACKUP_FORMAT,
    version: 1,
    keyHash: checked.keyHash === null ? null : base64url.encode(checked.keyHash),
    kdf: { name: "PBKDF2-SHA256", iterations, salt: base64url.encode(salt) },
    cipher: { name: "AES-256-GCM", nonce: base64url.encode(nonce) },
  };
  const key = await deriveKey(pass, salt, iterations);
  const plaintext = new TextEncoder().encode(JSON.stringify(stateToJson(checked)));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: bs(nonce), additionalData: bs(header(head)) }, key, bs(plaintext)));
  return { ...head, ciphertext: base64url.encode(ct) };
}

function field<T>(ok: boolean, value: T, what: string): T {
  if (!ok) throw new BackupError("format", `not an smp-relay backup: ${what}`);
  return value;
}

function bytesField(v: unknown, size: number | null, what: string): Uint8Array {
  field(typeof v === "string", v, `${what} missing`);
  let b: Uint8Array;
  try {
    b = base64url.decode(v as string);
  } catch {
    throw new BackupError("format", `not an smp-relay backup: ${what} is not base64url`);
  }
  return field(size === null || b.length === size, b, `${what} must be ${size} bytes`);
}

/**
 * Decrypts and validates a backup document (parsed JSON). Throws BackupError: "format" for a
 * document that is not one, "passphrase" when it does not open (a wrong passphrase, or a
 * document changed since), "contents" when what it holds is not a valid relay state.
 */
export async function decryptBackup(doc: unknown, passphrase: string): Promise<RelayState> {
  const d = doc as Partial<BackupDocument> | null;
  field(typeof d === "object" && d !== null && !Array.isArray(d), null, "not a JSON object");
  const x = d as Partial<BackupDocument>;
  field(x.format === BACKUP_FORMAT, null, `format is not "${BACKUP_FORMAT}"`);
  field(x.version === 1, null, `unknown version ${JSON.stringify(x.version)} (a newer smp-relay may read it)`);
  field(x.keyHash === null || typeof x.keyHash === "string", null, "bad keyHash");
  const kdf = field(typeof x.kdf === "object" && x.kdf !== null, x.kdf as BackupDocument["kdf"], "no kdf");
  const cipher = field(typeof x.cipher === "object" && x.cipher !== null, x.cipher as BackupDocument["cipher"], "no cipher");
  field(kdf.name === "PBKDF2-SHA256", null, `unknown kdf ${JSON.stringify(kdf.name)}`);
  field(cipher.name === "AES-256-GCM", null, `unknown cipher ${JSON.stringify(cipher.name)}`);
  field(
    Number.isSafeInteger(kdf.iterations) && kdf.iterations >= MIN_ITERATIONS && kdf.iterations <= MAX_ITERATIONS,
    null,
    `kdf iterations must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`,
  );
  const salt = bytesField(kdf.salt, SALT_SIZE, "kdf salt");
  const nonce = bytesField(cipher.nonce, NONCE_SIZE, "cipher nonce");
  const ct = bytesField(x.ciphertext, null, "ciphertext");
  field(ct.length > 16, null, "ciphertext too short");
  const head: Omit<BackupDocument, "ciphertext"> = {
    format: BACKUP_FORMAT,
    version: 1,
    keyHash: x.keyHash ?? null,
    kdf: { name: "PBKDF2-SHA256", iterations: kdf.iterations, salt: kdf.salt },
    cipher: { name: "AES-256-GCM", nonce: cipher.nonce },
  };
  const key = await deriveKey(checkPassphrase(passphrase), salt, kdf.iterations);
  let plaintext: Uint8Array;
  try {
    plaintext = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: bs(nonce), additionalData: bs(header(head)) }, key, bs(ct)));
  } catch {
    throw new BackupError("passphrase", "the backup does not open: wrong passphrase, or the file was changed");
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(plaintext));
  } catch {
    throw new BackupError("contents", "the backup opens but does not hold JSON");
  }
  const state = await parseRelayState(json);
  const keyHash = state.keyHash === null ? null : base64url.encode(state.keyHash);
  if (keyHash !== head.keyHash) throw new BackupError("contents", "the backup's keyHash is not its identity's");
  return state;
}
