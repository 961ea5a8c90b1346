// Admin routes for backing up and restoring what the Identity object keeps (identityBackup.ts).
// A Hono sub-app with relative routes; it has NO authentication of its own: mount it only behind
// the admin API's bearer token (admin.ts, at /admin/identity).
//
//   POST /backup   → 200 RelayStateJson (the identity, CA key included, and the routing key), no-store
//   POST /restore  ← RelayStateJson → 200 { restored, keyHash }; 400 not a valid state;
//                    409 the relay already has an identity or a routing key (nothing written)
//
// The values travel in plaintext inside TLS, to and from the admin only: the passphrase
// encryption happens in the CLI (`npx smp-relay backup` / `restore`), so the passphrase never
// reaches the relay (workerd refuses PBKDF2 at the iteration count we want; identityBackup.ts).
import { Hono } from "hono";
import { base64url } from "../protocol/base64.js";
import { BackupError, parseRelayState, stateToJson } from "./identityBackup.js";
import { hasIdentitySecrets, type IdentitySecretsEnv } from "./identitySecrets.js";
import { forgetCachedIdentity, routingKeyFromEnvSecret } from "./identityStore.js";

/** A RelayStateJson is a few KiB; anything much larger is not one. */
const MAX_BODY = 64 * 1024;

const NO_STORE = { "cache-control": "no-store" };

export const adminIdentity = new Hono<{ Bindings: Env }>();

adminIdentity.post("/backup", async (c) => {
  const env = c.env;
  const host = new URL(c.req.url).host;
  // The identity from the secrets is the operator's already (and its CA key is offline): not exported.
  const withIdentity = !hasIdentitySecrets(env as unknown as IdentitySecretsEnv);
  const stored = await env.IDENTITY.getByName("relay").exportState(host, withIdentity);
  const routingKey = routingKeyFromEnvSecret(env) ?? stored.routingKey;
  return c.json(stateToJson({ identity: stored.identity, routingKey }), 200, NO_STORE);
});

adminIdentity.post("/restore", async (c) => {
  const length = Number(c.req.header("content-length") ?? "0");
  if (length > MAX_BODY) return c.json({ error: "body too large for a relay state" }, 413);
  const text = await c.req.text();
  if (text.length > MAX_BODY) return c.json({ error: "body too large for a relay state" }, 413);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return c.json({ error: "the body is not JSON" }, 400);
  }
  let state;
  try {
    state = await parseRelayState(body);
  } catch (e) {
    if (e instanceof BackupError) return c.json({ error: e.message }, 400);
    throw e;
  }
  const result = await c.env.IDENTITY.getByName("relay").importState(state.identity, state.routingKey);
  if (!result.ok) {
    return c.json(
      {
        error: `the relay already has its ${result.existing.join(" and ")}: a restore never overwrites them (restore into a relay whose Identity object is empty)`,
        existing: result.existing,
      },
      409,
    );
  }
  forgetCachedIdentity();
  return c.json({
    restored: state.identity === null ? ["routing key"] : ["identity", "routing key"],
    keyHash: state.keyHash === null ? null : base64url.encode(state.keyHash),
  });
});
