// IdentityDO: the relay's certificates, created once on first use and kept in SQLite, so the
// address (smp://keyHash@host) stays the same across restarts and deploys.
import { DurableObject } from "cloudflare:workers";
import { randomBytes } from "../crypto/random.js";
import { metrics } from "./metrics.js";
import { QueueIdCodec } from "./queueIds.js";
import { deserializeIdentity, generateIdentity, serializeIdentity, type RelayIdentity, type StoredIdentity } from "./identity.js";
import { identityFromSecrets, type IdentitySecretsEnv } from "./identitySecrets.js";

export class IdentityDO extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS identity (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS routing (id INTEGER PRIMARY KEY CHECK (id = 1), key BLOB NOT NULL);`);
  }

  /** The secret that seals queue ids (see queueIds.ts), created on the first call. */
  routingKey(): Uint8Array {
    metrics.rpc.identity++;
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO routing (id, key) VALUES (1, ?)", randomBytes(32).buffer);
    return new Uint8Array(this.ctx.storage.sql.exec<{ key: ArrayBuffer }>("SELECT key FROM routing WHERE id = 1").one().key);
  }

  /** The stored identity, generated (for `host`) on the first call. The CA key never leaves. */
  async get(host: string): Promise<StoredIdentity> {
    metrics.rpc.identity++;
    const existing = this.read();
    if (existing) return withoutCaKey(existing);
    const { identity, caKey } = await generateIdentity(host);
    // Two first calls may race across the await above; the first insert wins and both return it.
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO identity (id, record) VALUES (1, ?)",
      JSON.stringify(serializeIdentity(identity, caKey)),
    );
    const stored = this.read();
    if (!stored) throw new Error("identity not stored");
    return withoutCaKey(stored);
  }

  private read(): StoredIdentity | null {
    const row = this.ctx.storage.sql.exec<{ record: string }>("SELECT record FROM identity WHERE id = 1").toArray()[0];
    return row ? (JSON.parse(row.record) as StoredIdentity) : null;
  }
}

function withoutCaKey(s: StoredIdentity): StoredIdentity {
  const { caKey: _caKey, ...rest } = s;
  return rest;
}

let fromSecrets: Promise<RelayIdentity | null> | null = null;

/**
 * The identity given by the secrets RELAY_CA_CERT, RELAY_ONLINE_CERT and RELAY_ONLINE_KEY
 * (identitySecrets.ts), validated once per isolate; null when none is set. Rejects with a
 * ConfigError naming the secret when only some are set or one is bad.
 */
export function identityFromEnvSecrets(env: Env): Promise<RelayIdentity | null> {
  if (fromSecrets === null) fromSecrets = identityFromSecrets(env as unknown as IdentitySecretsEnv);
  return fromSecrets;
}

/** Per-isolate cache: one RPC to the identity object per isolate, not per connection. */
let cached: Promise<RelayIdentity> | null = null;

/**
 * The relay's identity: from the secrets when they are set (the IdentityDO's identity is then
 * never created nor read), otherwise the one the IdentityDO keeps, created on first use.
 */
export function loadIdentity(env: Env, host: string): Promise<RelayIdentity> {
  if (cached === null) {
    cached = identityFromEnvSecrets(env).then(
      (fromEnv) => fromEnv ?? env.IDENTITY.getByName("relay").get(host).then((s) => deserializeIdentity(s)),
    );
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}

let codec: Promise<QueueIdCodec> | null = null;

/** The queue id codec, keyed with the relay's routing secret (one RPC per isolate). */
export function loadQueueIds(env: Env): Promise<QueueIdCodec> {
  if (codec === null) {
    codec = env.IDENTITY.getByName("relay")
      .routingKey()
      .then((k) => new QueueIdCodec(k));
    codec.catch(() => {
      codec = null;
    });
  }
  return codec;
}
