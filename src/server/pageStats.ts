// The days the operator page charts (STATS=public), read from the Stats object at most once a
// minute per isolate. The page is public and browsers revalidate it (no-cache): without this
// cache every view, or a flood of views, would be one more Durable Object request.
import type { RelayConfig } from "./config.js";
import { STATS_OBJECT, type DayCounts } from "./stats.js";
import { utcDay } from "./statsCounters.js";
import { dayWindow, DEFAULT_WINDOW_DAYS } from "./statsReport.js";

/** How long one read of the Stats object serves the page, in milliseconds. */
export const PAGE_STATS_TTL_MS = 60_000;

/**
 * The page's days: the DEFAULT_WINDOW_DAYS days ending with `now`'s UTC day (oldest first, as
 * dayWindow), or null for no chart (STATS is not "public", or the read failed).
 */
export type PageStats = (env: Pick<Env, "STATISTICS">, config: RelayConfig, now?: number) => Promise<DayCounts[] | null>;

/**
 * A PageStats with its own cache: the stored days (or a failed read, as null) are kept `ttlMs`
 * milliseconds. Only settled values are kept, never a pending read: workerd does not let one
 * request wait on I/O another request started. A failed read is logged without ids and also kept,
 * so a failing object is not asked again on every view.
 */
export function pageStatsCache(ttlMs: number = PAGE_STATS_TTL_MS): PageStats {
  let kept: { at: number; stored: readonly DayCounts[] | null } | null = null;
  return async (env, config, now = Date.now()) => {
    if (config.stats !== "public") return null;
    if (kept === null || now - kept.at >= ttlMs || now < kept.at) {
      kept = { at: now, stored: await readStored(env) };
    }
    return kept.stored === null ? null : dayWindow(kept.stored, utcDay(now), DEFAULT_WINDOW_DAYS);
  };
}

async function readStored(env: Pick<Env, "STATISTICS">): Promise<readonly DayCounts[] | null> {
  try {
    return await env.STATISTICS.getByName(STATS_OBJECT).read();
  } catch (e) {
    console.error("operator page: stats read failed", e instanceof Error ? e.message : String(e));
    return null;
  }
}
