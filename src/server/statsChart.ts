// The operator page's chart (issue 14): messages sent per day over the last days, drawn here as
// an inline SVG string, so the page stays one document under its strict CSP (no script, no image
// request). Pure: days in, markup out. Colours come from the page's CSS classes (.chart …), so the
// chart follows the page's light and dark themes.
import { escapeHtml } from "./page.js";
import type { DayCounts } from "./statsCounters.js";

// The coordinate system, in viewBox units: the SVG scales to the width of its box.
const WIDTH = 440;
const HEIGHT = 200;
const LEFT = 48; // room for tick labels up to "12.5M"
const RIGHT = 6;
const TOP = 10;
const BOTTOM = 24; // room for the day labels
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT = HEIGHT - TOP - BOTTOM;
const BASELINE = TOP + PLOT_HEIGHT;
/** A day with anything at all is at least this tall, so one message next to a billion shows. */
const MIN_BAR = 1.5;
/** At most this many intervals between y-axis ticks. */
const MAX_INTERVALS = 5;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "12 Nov" for a utcDay (whole days since 1970-01-01). */
export function shortDate(day: number): string {
  const d = new Date(day * 86_400_000);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

/** "12 Nov 2026" for a utcDay. */
export function longDate(day: number): string {
  return `${shortDate(day)} ${new Date(day * 86_400_000).getUTCFullYear()}`;
}

/** "1,234,567": a count with thousands separators (any size; not locale-dependent). */
export function groupDigits(n: number): string {
  return BigInt(Math.round(count(n))).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A tick label: "0", "950", "2.5k", "750k", "1.2M", "1B", "3T" (at most 3 significant digits). */
export function compactNumber(n: number): string {
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, suffix] of units) {
    if (n >= size) return `${Number((n / size).toPrecision(3))}${suffix}`;
  }
  return String(Number(n.toPrecision(3)));
}

/**
 * The y-axis for values up to `max`: a step of 1, 2, 2.5 or 5 times a power of ten (a whole
 * number), the smallest that reaches `max` in at most 5 steps, and `top` = the tick at or above
 * `max`. All zeros (or max < 1) give a scale up to 1.
 */
export function niceScale(max: number): { top: number; step: number } {
  const m = Math.max(1, count(max));
  for (let exp = Math.max(0, Math.floor(Math.log10(m / MAX_INTERVALS))); ; exp++) {
    for (const f of [1, 2, 2.5, 5]) {
      const step = f * 10 ** exp;
      if (!Number.isInteger(step)) continue;
      const intervals = Math.ceil(m / step);
      if (intervals <= MAX_INTERVALS) return { top: intervals * step, step };
    }
  }
}

/** A stored value as a count: finite and not negative, else 0. */
function count(n: number | undefined): number {
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0;
}

/** Two decimals at most: short markup, and no "1e-7" in an attribute. */
function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function plural(n: number, one: string, many: string): string {
  return `${groupDigits(n)} ${n === 1 ? one : many}`;
}

/**
 * The chart of `days` (oldest first, one entry per day, as dayWindow gives them, usually 30): a
 * `<figure class="chart">` holding an `<svg role="img">` with one `<rect class="bar">` per day
 * (height ∝ messagesSent; a zero day is just the baseline), a y-axis of round ticks, the first and
 * last day's dates, a `<title>` tooltip per day, and a `<figcaption>` saying the same in words.
 * Empty markup for no days.
 */
export function statsChart(days: readonly DayCounts[]): string {
  const n = days.length;
  if (n === 0) return "";
  const e = escapeHtml;
  const sent = days.map((d) => count(d.counts.messagesSent));
  const delivered = days.map((d) => count(d.counts.messagesDelivered));
  const total = sent.reduce((a, b) => a + b, 0);
  const totalDelivered = delivered.reduce((a, b) => a + b, 0);
  // The first busiest day.
  const busiest = sent.reduce((best, v, i) => (v > sent[best]! ? i : best), 0);
  const { top, step } = niceScale(sent[busiest]!);
  const first = days[0]!.day;
  const last = days[n - 1]!.day;
  const windowText = `last ${n === 1 ? "day" : `${n} days`}`;

  const ticks: string[] = [];
  for (let v = 0; v <= top; v += step) {
    const y = num(BASELINE - (v / top) * PLOT_HEIGHT);
    if (v > 0) ticks.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y}" y2="${y}"/>`);
    ticks.push(`<text class="tick" x="${LEFT - 6}" y="${y}" dy="0.32em" text-anchor="end">${e(compactNumber(v))}</text>`);
  }

  const slot = PLOT_WIDTH / n;
  const bars = days.map((d, i) => {
    const v = sent[i]!;
    const h = v === 0 ? 0 : Math.max(MIN_BAR, (v / top) * PLOT_HEIGHT);
    const x = LEFT + i * slot;
    const title = `${longDate(d.day)}: ${plural(v, "message", "messages")} sent, ${groupDigits(delivered[i]!)} delivered`;
    // The transparent column under each bar carries the tooltip for short and zero days too.
    return (
      `<g class="day"><title>${e(title)}</title>` +
      `<rect class="hit" x="${num(x)}" y="${TOP}" width="${num(slot)}" height="${PLOT_HEIGHT}"/>` +
      `<rect class="bar" x="${num(x + slot * 0.15)}" y="${num(BASELINE - h)}" width="${num(slot * 0.7)}" height="${num(h)}"/></g>`
    );
  });

  const labels =
    `<text class="label" x="${num(LEFT + slot * 0.15)}" y="${HEIGHT - 6}" text-anchor="start">${e(shortDate(first))}</text>` +
    (n > 1 ? `<text class="label" x="${num(WIDTH - RIGHT - slot * 0.15)}" y="${HEIGHT - 6}" text-anchor="end">${e(shortDate(last))}</text>` : "");

  const aria =
    total === 0
      ? `Messages sent per day, ${windowText}: none`
      : `Messages sent per day, ${windowText}: ${groupDigits(total)} in total, most on ${shortDate(days[busiest]!.day)} (${groupDigits(sent[busiest]!)})`;
  const range = n === 1 ? `${longDate(first)}, UTC` : `${shortDate(first)} to ${longDate(last)}, UTC`;
  const caption =
    total === 0
      ? `No messages were sent through this relay in the ${windowText} (${range}).`
      : `${plural(total, "message", "messages")} sent in the ${windowText} (${range}), ${groupDigits(totalDelivered)} delivered; the busiest day was ${longDate(days[busiest]!.day)}, with ${groupDigits(sent[busiest]!)}.`;

  return `<figure class="chart">
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${e(aria)}">
${ticks.join("")}
<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${BASELINE}" y2="${BASELINE}"/>
${bars.join("\n")}
${labels}
</svg>
<figcaption>${e(caption)}</figcaption>
</figure>`;
}
