// The admin API: a Hono sub-app that worker.ts mounts at /admin, every route behind the bearer
// token (adminAuth.ts: without the ADMIN_TOKEN secret, every /admin path is a 404). README,
// "Admin API", documents it; SECURITY.md says what the token allows.
//
//   POST /admin/queues/<id>/block    {"reason":"spam"|"content","notice"?:{"ttl"?:seconds}}
//   POST /admin/queues/<id>/unblock
//   POST /admin/queues/<id>/delete   (or DELETE /admin/queues/<id>)
//   POST /admin/identity/backup, /restore (adminIdentity.ts)
//   GET  /admin/stats[?days=N]       JSON statistics (statsReport.ts), N days (1 to 366, default 30)
//   GET  /admin/metrics              the same totals as Prometheus counters
//
// <id> is a queue's recipient id or sender id in base64url, as clients show them. It is routed as
// the relay routes a command's entity id (routes.ts): an id the relay sealed opens straight to its
// Queue object; a sender id the client chose is looked up in its index object. An id that leads
// nowhere, or no longer belongs to the queue it leads to, is 404.
//
// A blocked queue answers its clients `ERR BLOCKED reason=…[,notice=…]` (WIRE.md 6.16) for every
// command but OFF and DEL, as upstream does, and keeps its messages (they still expire after
// MESSAGE_TTL_SECONDS); unblocking restores it as it was. Deleting is the recipient's DEL.
import { Hono, type Context } from "hono";
import { base64url } from "../protocol/base64.js";
import { ParseError } from "../protocol/encoding.js";
import { blockedCode, type BlockingInfo } from "../protocol/errors.js";
import { adminAuth } from "./adminAuth.js";
import { adminIdentity } from "./adminIdentity.js";
import { readConfig, type ConfigEnv } from "./config.js";
import { loadQueueIds } from "./identityStore.js";
import type { AdminEntity } from "./queue.js";
import { QUEUE_ID_SIZE } from "./queueIds.js";
import { recordStats, STATS_OBJECT } from "./stats.js";
import { utcDay } from "./statsCounters.js";
import { DEFAULT_WINDOW_DAYS, prometheusText, PROMETHEUS_CONTENT_TYPE, statsReport, type StatsReport } from "./statsReport.js";

/** A block request is a few dozen bytes. */
const MAX_BODY = 1024;
/** A notice's TTL: at most ten years, in seconds. */
const MAX_NOTICE_TTL = 10 * 365 * 24 * 3600;

const NO_STORE = { "cache-control": "no-store" };

export const admin = new Hono<{ Bindings: Env }>();

admin.use("*", adminAuth);
admin.route("/identity", adminIdentity);

/** The Queue object an admin id leads to, with the id as the queue must recognise it; null: none. */
async function findQueue(env: Env, encoded: string): Promise<{ queue: string; entity: AdminEntity } | null> {
  let id: Uint8Array;
  try {
    id = base64url.decode(encoded);
  } catch (e) {
    if (e instanceof ParseError) return null;
    throw e;
  }
  if (id.length !== QUEUE_ID_SIZE) return null;
  const ids = await loadQueueIds(env);
  const sealed = ids.open(id);
  if (sealed !== null) return sealed.kind === "link" ? null : { queue: sealed.queue, entity: { kind: sealed.kind, id } };
  // Not sealed by the relay: a sender id a client chose (WIRE.md 6.13a), if anyone holds it.
  const queue = await env.ID_INDEX.getByName(ids.indexName("snd", id)).lookup();
  return queue === null ? null : { queue, entity: { kind: "snd", id } };
}

/** The body of a block request, or the reason it is not one. */
export function parseBlockRequest(body: unknown): BlockingInfo | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return 'expected a JSON object {"reason": "spam" | "content", "notice"?: {"ttl"?: seconds}}';
  const { reason, notice, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `unknown field ${JSON.stringify(Object.keys(rest)[0])}`;
  if (reason !== "spam" && reason !== "content") return 'reason must be "spam" or "content"';
  if (notice === undefined || notice === null) return { reason };
  if (typeof notice !== "object" || Array.isArray(notice)) return 'notice must be an object, {} or {"ttl": seconds}';
  const { ttl, ...other } = notice as Record<string, unknown>;
  if (Object.keys(other).length > 0) return `unknown notice field ${JSON.stringify(Object.keys(other)[0])}`;
  if (ttl === undefined || ttl === null) return { reason, notice: {} };
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_NOTICE_TTL) return `notice.ttl must be a whole number of seconds from 1 to ${MAX_NOTICE_TTL}`;
  return { reason, notice: { ttl } };
}

async function readJson(c: Context<{ Bindings: Env }>): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const text = await c.req.text();
  if (text.length > MAX_BODY) return { ok: false, response: c.json({ error: "body too large" }, 413) };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, response: c.json({ error: "the body is not JSON" }, 400) };
  }
}

const notFound = (c: Context) => c.json({ error: "no such queue" }, 404, NO_STORE);

admin.post("/queues/:id/block", async (c) => {
  const body = await readJson(c);
  if (!body.ok) return body.response;
  const info = parseBlockRequest(body.value);
  if (typeof info === "string") return c.json({ error: info }, 400);
  const found = await findQueue(c.env, c.req.param("id"));
  const code = blockedCode(info);
  if (found === null || !(await c.env.QUEUE.getByName(found.queue).adminBlock(found.entity, code.slice("BLOCKED ".length)))) return notFound(c);
  return c.json({ blocked: true, clientsGet: `ERR ${code}` }, 200, NO_STORE);
});

admin.post("/queues/:id/unblock", async (c) => {
  const found = await findQueue(c.env, c.req.param("id"));
  if (found === null || !(await c.env.QUEUE.getByName(found.queue).adminBlock(found.entity, null))) return notFound(c);
  return c.json({ blocked: false }, 200, NO_STORE);
});

async function deleteQueue(c: Context<{ Bindings: Env }>): Promise<Response> {
  const found = await findQueue(c.env, c.req.param("id") ?? "");
  if (found === null || !(await c.env.QUEUE.getByName(found.queue).adminDelete(found.entity))) return notFound(c);
  await recordStats(c.env, readConfig(c.env as unknown as ConfigEnv), { queuesDeleted: 1 });
  return c.json({ deleted: true }, 200, NO_STORE);
}

admin.post("/queues/:id/delete", deleteQueue);
admin.delete("/queues/:id", deleteQueue);

/** The statistics over `windowDays` days ending today (one request to the Stats object). */
async function report(env: Env, windowDays: number): Promise<StatsReport> {
  const stored = await env.STATISTICS.getByName(STATS_OBJECT).read();
  return statsReport(stored, readConfig(env as unknown as ConfigEnv).stats, utcDay(Date.now()), windowDays);
}

admin.get("/stats", async (c) => {
  const raw = c.req.query("days");
  const days = raw === undefined ? DEFAULT_WINDOW_DAYS : /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(days >= 1 && days <= 366)) return c.json({ error: "days must be a whole number from 1 to 366" }, 400);
  return c.json(await report(c.env, days), 200, NO_STORE);
});

admin.get("/metrics", async (c) => {
  return c.body(prometheusText(await report(c.env, 1)), 200, { ...NO_STORE, "content-type": PROMETHEUS_CONTENT_TYPE });
});
