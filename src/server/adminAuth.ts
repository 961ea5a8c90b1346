// The admin API's gate (admin.ts mounts it before every /admin route; reuse it for any new one).
//
// - No `ADMIN_TOKEN` secret (or an empty one): the API does not exist. Every /admin path answers
//   exactly as an unknown path does (the app's 404), whatever the request carries.
// - `Authorization: Bearer <token>`, compared in constant time: SHA-256 of what was sent against
//   SHA-256 of the secret (equal-length digests, constantTimeEqual), so neither the token's length
//   nor its first differing byte shows in the time taken. A missing header, another scheme and a
//   wrong token all do that same work and get the same 401 with the same body.
// - Failures are rate-limited per isolate, in memory: after FAIL_LIMIT failures within
//   FAIL_WINDOW_MS (from anyone), every /admin request gets 429 for LOCKOUT_MS, right token
//   included (checking it would let guessing go on). An isolate is one Worker instance: a busy
//   relay has several, each with its own count, and a new isolate starts from zero. This bounds
//   guessing per instance, it is not a global counter; a token of 32 random bytes is what makes
//   guessing hopeless (README, "Admin API").
import type { Context, MiddlewareHandler } from "hono";
import { constantTimeEqual } from "../protocol/encoding.js";
import { sha256 } from "../crypto/hash.js";

/** Failed attempts within FAIL_WINDOW_MS that lock the admin API. */
export const FAIL_LIMIT = 10;
export const FAIL_WINDOW_MS = 60_000;
/** How long the admin API then answers 429. */
export const LOCKOUT_MS = 60_000;

/** This isolate's recent failures (times, ms) and the end of a lockout. */
const failures: number[] = [];
let lockedUntil = 0;

const UNAUTHORIZED_BODY = { error: "unauthorized" };

/** The configured token, or null when the admin API is off. */
export function adminToken(env: object): string | null {
  const token = (env as unknown as Record<string, string | undefined>).ADMIN_TOKEN;
  return token === undefined || token === "" ? null : token;
}

/** The bearer token of a request, or "" when it carries none. */
function bearer(header: string | undefined): string {
  const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? "");
  return m === null ? "" : m[1]!;
}

/** Constant-time comparison of the presented token with the configured one (both hashed first). */
export async function tokenMatches(presented: string, token: string): Promise<boolean> {
  // UTF-8, not ASCII: a header may carry any text, and a token that is not ASCII is just wrong.
  const utf8 = new TextEncoder();
  const [a, b] = await Promise.all([sha256(utf8.encode(presented)), sha256(utf8.encode(token))]);
  return constantTimeEqual(a, b);
}

function tooMany(c: Context, now: number): Response {
  const seconds = Math.max(1, Math.ceil((lockedUntil - now) / 1000));
  return c.json({ error: "too many failed attempts, try again later" }, 429, { "retry-after": String(seconds) });
}

/** The gate: 404 without ADMIN_TOKEN, 429 while locked, 401 without the right bearer token. */
// Typed without the Worker's Env (the secret is read by name), so Node code may import this module.
export const adminAuth: MiddlewareHandler<{ Bindings: object }> = async (c, next) => {
  const token = adminToken(c.env);
  if (token === null) return c.notFound();
  const now = Date.now();
  if (now < lockedUntil) return tooMany(c, now);
  if (await tokenMatches(bearer(c.req.header("authorization")), token)) {
    await next();
    return;
  }
  while (failures.length > 0 && failures[0]! <= now - FAIL_WINDOW_MS) failures.shift();
  failures.push(now);
  if (failures.length >= FAIL_LIMIT) {
    failures.length = 0;
    lockedUntil = now + LOCKOUT_MS;
  }
  return c.json(UNAUTHORIZED_BODY, 401, { "www-authenticate": 'Bearer realm="smp-relay admin"' });
};
