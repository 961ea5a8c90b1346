// A connection's statistics between frames (statsCounters.ts, stats.ts). The counts live in the
// socket attachment, packed, so they survive hibernation at no storage cost; they are written with
// the state a block writes anyway (sendTransmissions). The Session flushes them to the Stats
// object once, when the connection ends, and once more for each UTC midnight it lives through.
import type { OpenState, SessionState } from "./sessionState.js";
import { addAll, packCounts, unpackCounts, utcDay, type Counts } from "./statsCounters.js";

/** A flush to make: `counts` for UTC day `day`. */
export interface StatsFlush {
  day: number;
  counts: Counts;
}

/** What an opened connection starts with (at its hello, `now` in ms): itself, counted. */
export function openedCounts(now: number): Pick<OpenState, "counts" | "countDay"> {
  return { counts: packCounts({ connections: 1 }), countDay: utcDay(now) };
}

/** `state` with `more` added to its counts. */
export function withCounts(state: OpenState, more: Counts | undefined): OpenState {
  if (more === undefined) return state;
  const counts = unpackCounts(state.counts);
  addAll(counts, more);
  return { ...state, counts: packCounts(counts) };
}

/**
 * At the first frame of a new UTC day (`now`, ms): the previous day's counts to flush and the
 * state with them taken out. Null when the day has not changed.
 */
export function takeDayRollover(state: OpenState, now: number): { state: OpenState; flush: StatsFlush } | null {
  const today = utcDay(now);
  if (state.countDay === undefined || state.countDay === today) return null;
  return { state: { ...state, counts: packCounts({}), countDay: today }, flush: { day: state.countDay, counts: unpackCounts(state.counts) } };
}

/**
 * The last flush of a connection that ended at `now`: a connection still in its handshake counts
 * as opened and failed; an open one flushes what it counted. Null once flushed (`counted`).
 */
export function finalFlush(state: SessionState, now: number): StatsFlush | null {
  if (state.counted === true) return null;
  if (state.phase === "handshake") return { day: utcDay(now), counts: { connections: 1, handshakesFailed: 1 } };
  return { day: state.countDay ?? utcDay(now), counts: unpackCounts(state.counts) };
}
