// IdentityDO: the relay's certificates, created once on first use and kept in SQLite, so the
// address (smp://keyHash@host) stays the same across restarts and deploys.
import { DurableObject } from "cloudflare:workers";
import { randomBytes } from "../crypto/random.js";
import { metrics } from "./metrics.js";
import { QueueIdCodec } from "./queueIds.js";
import { deserializeIdentity, generateIdentity, serializeIdentity, type RelayIdentity, type StoredIdentity } from "./identity.js";
import { identityFromSecrets, routingKeyFromSecret, type IdentitySecretsEnv, type RoutingKeySecretEnv } from "./identitySecrets.js";

/** Why importState refused: what the object already holds. */
export type ImportResult = { ok: true } | { ok: false; existing: ("identity" | "routing key")[] };

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

  /**
   * For a backup (identityBackup.ts): the stored identity, CA key included (null when
   * `withIdentity` is false: the relay's identity comes from the secrets), and the routing key.
   * Both are created first if missing, as the relay would on its first request.
   */
  async exportState(host: string, withIdentity: boolean): Promise<{ identity: StoredIdentity | null; routingKey: Uint8Array }> {
    if (withIdentity) await this.get(host);
    const routingKey = this.routingKey();
    return { identity: withIdentity ? this.read() : null, routingKey };
  }

  /**
   * Restores a backup into an object that holds neither the routing key nor (when the backup has
   * one) an identity: both rows in one transaction, or nothing. The caller validated the values
   * (parseRelayState); an existing row is never overwritten.
   */
  importState(identity: StoredIdentity | null, routingKey: Uint8Array): ImportResult {
    metrics.rpc.identity++;
    if (routingKey.length !== 32) throw new RangeError("routing key must be 32 bytes");
    return this.ctx.storage.transactionSync((): ImportResult => {
      const existing: ("identity" | "routing key")[] = [];
      if (identity !== null && this.read() !== null) existing.push("identity");
      if (this.ctx.storage.sql.exec("SELECT 1 FROM routing WHERE id = 1").toArray().length > 0) existing.push("routing key");
      if (existing.length > 0) return { ok: false, existing };
      if (identity !== null) this.ctx.storage.sql.exec("INSERT INTO identity (id, record) VALUES (1, ?)", JSON.stringify(identity));
      this.ctx.storage.sql.exec("INSERT INTO routing (id, key) VALUES (1, ?)", routingKey.slice().buffer);
      return { ok: true };
    });
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

/**
 * The routing key of the RELAY_ROUTING_KEY secret, validated (once per isolate); null when it is
 * not set. Throws a ConfigError naming the secret when it is bad.
 */
export function routingKeyFromEnvSecret(env: Env): Uint8Array | null {
  return routingKeyFromSecret(env as unknown as RoutingKeySecretEnv);
}

let codec: Promise<QueueIdCodec> | null = null;

/**
 * The queue id codec, keyed with the relay's routing secret: RELAY_ROUTING_KEY when set (the
 * IdentityDO's key is then never created nor read), else the IdentityDO's (one RPC per isolate).
 */
export function loadQueueIds(env: Env): Promise<QueueIdCodec> {
  if (codec === null) {
    const fromEnv = routingKeyFromEnvSecret(env);
    codec = (fromEnv !== null ? Promise.resolve(fromEnv) : env.IDENTITY.getByName("relay").routingKey()).then((k) => new QueueIdCodec(k));
    codec.catch(() => {
      codec = null;
    });
  }
  return codec;
}

/** Drops this isolate's cached identity and codec (after a restore; tests). */
export function forgetCachedIdentity(): void {
  cached = null;
  codec = null;
}
