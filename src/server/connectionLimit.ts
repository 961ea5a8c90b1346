// Per-address limit on new WebSocket connections (issue 14), checked in the Worker before a
// Session object is made, so a refused connection costs no Durable Object request: one address
// cannot spend the free plan's daily requests on handshakes.
//
// It uses Cloudflare's rate-limiting binding CONNECTIONS_PER_IP (wrangler.jsonc "ratelimits": its
// limit and period, 10 or 60 s, live there), keyed by the client's address as Cloudflare's edge
// reports it (CF-Connecting-IP, which a client cannot set). Counts are kept per Cloudflare
// location and are approximate, as the binding's are.
//
// Where the binding does not exist (startLocalRelay's harness, a Worker deployed without it) there
// is no per-address limit: the per-connection limits still hold (README, Configuration), and a
// Cloudflare WAF rate-limiting rule on the relay's route does the same job at the edge.
// LIMIT_CONNECTIONS_PER_IP=false turns it off (the bench opens hundreds of connections a minute
// from one address).

/** The binding's shape (workerd's RateLimit). */
interface RateLimiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/**
 * True when this upgrade must be refused (429): the limit is on, the binding exists, the request
 * names its client's address, and that address is over its limit.
 */
export async function connectionRefused(request: Request, env: object, enabled: boolean): Promise<boolean> {
  if (!enabled) return false;
  const limiter = (env as { CONNECTIONS_PER_IP?: RateLimiter }).CONNECTIONS_PER_IP;
  const ip = request.headers.get("CF-Connecting-IP");
  if (limiter === undefined || ip === null || ip === "") return false;
  const { success } = await limiter.limit({ key: ip });
  return !success;
}
