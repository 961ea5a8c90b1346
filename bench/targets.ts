// The targets the bench's figures are held to (issue 13: against the floors measured in the same
// run, and the relay's own costs; issue 14: what statistics add), judged on the run's JSON keys
// and printed at the end of the report. Issue 6's `overhead_ratio` ≤ 1.5 and `latency_ratio` ≤ 3 are withdrawn: durable storage
// alone (floor S) already exceeds them here; both ratios are still reported, without a target.
import { fmt, table } from "./format.js";

/** Each figure's bound: at most (`max`) or at least (`min`). The keys are the JSON's. */
export const TARGETS = {
  relay_over_floor: { max: 1.25 },
  relay_over_floor_wire: { max: 1.25 },
  relay_throughput_over_floor: { min: 0.8 },
  cipher_speedup: { min: 1.8 },
  do_requests_per_msg: { max: 3.1 },
  rows_written_per_msg: { max: 2 },
  handshake_cpu_ms: { max: 3 },
  handshake_rows_written: { max: 1 },
  resub_rows_written: { max: 1 },
  // Issue 14: a connection's statistics are one flush when it ends, and nothing per message.
  stats_extra_requests_per_conn: { max: 1 },
  stats_extra_requests_per_msg: { max: 0 },
} as const satisfies Record<string, { max: number } | { min: number }>;

export type TargetKey = keyof typeof TARGETS;

/** Prints the targets table (a figure the run did not measure shows "-") and returns the JSON key `targets`. */
export function reportTargets(json: Record<string, unknown>): { targets: Record<string, unknown> } {
  const targets: Record<string, unknown> = {};
  const rows = (Object.keys(TARGETS) as TargetKey[]).map((k) => {
    const t: { max?: number; min?: number } = TARGETS[k];
    const atLeast = t.min !== undefined;
    const bound = (t.min ?? t.max) as number;
    const v = typeof json[k] === "number" ? (json[k] as number) : null;
    const met = v === null ? null : atLeast ? v >= bound - 1e-9 : v <= bound + 1e-9;
    targets[k] = { value: v, target: bound, bound: atLeast ? "at least" : "at most", met };
    return [k, fmt(v, 3), `${atLeast ? "≥" : "≤"} ${bound}`, met === null ? "-" : met ? "yes" : "NO"];
  });
  console.log("\nTargets (issues 13 and 14)\n");
  console.log(table(["figure", "value", "target", "met"], rows));
  return { targets };
}
