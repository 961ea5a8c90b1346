// The Worker: WebSocket upgrades go to a fresh Session object each; plain HTTP routes are Hono's.
import { Hono } from "hono";
import { formatAddress } from "../protocol/address.js";
import { SMP_VERSION } from "../protocol/hello.js";
import { secretboxBackend } from "../crypto/secretboxBackend.js";
import { admin } from "./admin.js";
import { readConfig, type ConfigEnv } from "./config.js";
import { connectionRefused } from "./connectionLimit.js";
import { loadIdentity } from "./identityStore.js";
import { snapshot } from "./metrics.js";
import { operatorPage } from "./page.js";
import { pageStatsCache } from "./pageStats.js";
import { refusal, startupError } from "./startup.js";
import { RELAY_VERSION } from "./version.js";

export { SessionDO } from "./session.js";
export { IdentityDO } from "./identityStore.js";
export { QueueDO } from "./queue.js";
export { IdIndexDO } from "./idIndex.js";
export { StatsDO } from "./stats.js";

const app = new Hono<{ Bindings: Env }>();

app.get("/health", async (c) => {
  const host = new URL(c.req.url).host;
  const identity = await loadIdentity(c.env, host);
  return c.json({
    status: "ok",
    version: RELAY_VERSION,
    smpVersion: SMP_VERSION,
    address: formatAddress({ keyHash: identity.keyHash, host }),
  });
});

// Benchmark counters (metrics.ts), only when the operator turns them on, and this isolate's
// secretbox backend ("libsodium" once an object here has started it, src/server/sodium.ts).
app.get("/debug/metrics", (c) => {
  if ((c.env as unknown as Record<string, string>).RELAY_DEBUG_METRICS !== "true") return c.notFound();
  return c.json({ ...snapshot(), cipher: secretboxBackend() });
});

// The admin API (admin.ts): 404 unless the ADMIN_TOKEN secret is set, then behind its bearer token.
app.route("/admin", admin);

// This isolate's cache of the page's statistics (one Stats read a minute at most).
const pageStats = pageStatsCache();

// The operator page (page.ts): address, QR code, what the relay stores, messages per day
// (STATS=public; no Stats request otherwise), version, source.
app.get("/", async (c) => {
  const url = new URL(c.req.url);
  const config = readConfig(c.env as unknown as ConfigEnv);
  const [identity, days] = await Promise.all([loadIdentity(c.env, url.host), pageStats(c.env, config)]);
  return operatorPage({ url, keyHash: identity.keyHash, config, days });
});

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    // Config vars and identity secrets are checked on the first request of each isolate (there
    // is no start hook); while one is bad, every request gets 500 naming it.
    const refused = await startupError(env);
    if (refused !== null) return refusal(request, refused);
    // Any path upgrades, as the upstream relay does: clients append ?challenge= to whatever URL
    // they were given.
    if (request.headers.get("Upgrade")?.toLowerCase() === "websocket") {
      // Before any object is made: a refused connection costs no Durable Object request.
      if (await connectionRefused(request, env, readConfig(env as unknown as ConfigEnv).limitConnectionsPerIp)) {
        return new Response("too many connections from this address; try again in a minute\n", { status: 429, headers: { "retry-after": "60" } });
      }
      return env.SESSION.get(env.SESSION.newUniqueId()).fetch(request);
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
