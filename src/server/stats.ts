// StatsDO: the relay's aggregate statistics (issue 14), one object for the whole relay, named
// STATS_OBJECT. One SQLite row per UTC day holds that day's counters (statsCounters.ts) as JSON.
//
// Who writes: a Session flushes its connection's counts once, when the connection ends (and once
// more for each UTC midnight the connection lives through); a Queue flushes the messages that
// expired when it deletes them; the admin API counts the queues it deletes. So statistics cost one
// Durable Object request and one row written per connection and nothing per message. A flush that
// fails is lost (logged, never retried): statistics are a gauge, not a ledger.
//
// Turned off with STATS=off: nothing is counted or stored and the admin API reports that.
import { DurableObject } from "cloudflare:workers";
import type { RelayConfig } from "./config.js";
import { execCounted, metrics } from "./metrics.js";
import { isCounterName, utcDay, type Counts, type DayCounts } from "./statsCounters.js";

export type { DayCounts };

/** The one Stats object's name. */
export const STATS_OBJECT = "stats";

/** The largest value one flush may add to a counter (no connection sends more than this). */
const MAX_ADD = 2 ** 40;

export class StatsDO extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS day_counts (day INTEGER PRIMARY KEY, counts TEXT NOT NULL)");
  }

  /**
   * Adds `counts` to day `day` (a utcDay): one row written. Counters this relay does not know and
   * values that are not whole numbers from 0 to 2^40 are ignored.
   */
  async add(day: number, counts: Counts): Promise<void> {
    metrics.rpc.statsAdd++;
    if (!Number.isInteger(day) || day < 0 || day > 1_000_000) return;
    const sql = this.ctx.storage.sql;
    const row = execCounted<{ counts: string }>(sql, "SELECT counts FROM day_counts WHERE day = ?", day)[0];
    const stored = row === undefined ? {} : (JSON.parse(row.counts) as Record<string, number>);
    let changed = false;
    for (const [name, n] of Object.entries(counts)) {
      if (!isCounterName(name) || typeof n !== "number" || !Number.isInteger(n) || n <= 0 || n > MAX_ADD) continue;
      stored[name] = (stored[name] ?? 0) + n;
      changed = true;
    }
    if (!changed) return;
    execCounted(sql, "INSERT INTO day_counts (day, counts) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET counts = excluded.counts", day, JSON.stringify(stored));
  }

  /** Every day that has counts, oldest first (one row a day: a few hundred a year). */
  async read(): Promise<DayCounts[]> {
    metrics.rpc.statsRead++;
    return execCounted<{ day: number; counts: string }>(this.ctx.storage.sql, "SELECT day, counts FROM day_counts ORDER BY day").map((r) => ({
      day: r.day,
      counts: JSON.parse(r.counts) as Counts,
    }));
  }
}

/**
 * Adds `counts` to today's statistics (or `day`'s), unless STATS=off or nothing was counted.
 * Never throws: a failed flush is logged (without ids) and dropped.
 */
export async function recordStats(env: Env, config: RelayConfig, counts: Counts, day: number = utcDay(Date.now())): Promise<void> {
  if (config.stats === "off" || Object.keys(counts).length === 0) return;
  try {
    await env.STATISTICS.getByName(STATS_OBJECT).add(day, counts);
  } catch (e) {
    console.error("stats flush failed", e instanceof Error ? e.message : String(e));
  }
}
