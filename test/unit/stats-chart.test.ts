// The operator page's chart (src/server/statsChart.ts): round axis ticks, numbers and dates as
// people read them, and bars that stay honest from no messages at all to a billion in a day.
import { describe, expect, it } from "vitest";
import { compactNumber, groupDigits, longDate, niceScale, shortDate, statsChart } from "../../src/server/statsChart.js";
import type { Counts, DayCounts } from "../../src/server/statsCounters.js";
import { dayWindow } from "../../src/server/statsReport.js";

const NOV_30_2026 = Date.UTC(2026, 10, 30) / 86_400_000;

/** 30 days ending 30 Nov 2026, with messagesSent per day given by `sent` (day index 0 = 1 Nov). */
function window30(sent: Record<number, number>, extra: Record<number, Counts> = {}): DayCounts[] {
  const stored = Array.from({ length: 30 }, (_, i) => ({ day: NOV_30_2026 - 29 + i, counts: { ...(sent[i] ? { messagesSent: sent[i] } : {}), ...extra[i] } }));
  return dayWindow(stored, NOV_30_2026, 30);
}

interface Bar {
  title: string;
  y: number;
  height: number;
}

function bars(html: string): Bar[] {
  return [...html.matchAll(/<g class="day"><title>([^<]*)<\/title><rect class="hit"[^>]*\/><rect class="bar" [^>]*y="([^"]+)" [^>]*height="([^"]+)"\/><\/g>/g)].map((m) => ({
    title: m[1]!,
    y: Number(m[2]),
    height: Number(m[3]),
  }));
}

function ticks(html: string): string[] {
  return [...html.matchAll(/<text class="tick"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

function ariaLabel(html: string): string {
  return /<svg [^>]*aria-label="([^"]*)"/.exec(html)![1]!;
}

describe("niceScale", () => {
  it("takes the smallest round step that reaches the maximum in at most 5 intervals", () => {
    expect(niceScale(0)).toEqual({ top: 1, step: 1 });
    expect(niceScale(1)).toEqual({ top: 1, step: 1 });
    expect(niceScale(3)).toEqual({ top: 3, step: 1 });
    expect(niceScale(7)).toEqual({ top: 8, step: 2 });
    expect(niceScale(10)).toEqual({ top: 10, step: 2 });
    expect(niceScale(11)).toEqual({ top: 15, step: 5 });
    expect(niceScale(210)).toEqual({ top: 250, step: 50 });
    expect(niceScale(1234)).toEqual({ top: 1250, step: 250 });
    expect(niceScale(1e9)).toEqual({ top: 1e9, step: 2e8 });
    expect(niceScale(1e9 + 1)).toEqual({ top: 1.25e9, step: 2.5e8 });
  });

  it("always covers the maximum, with whole steps and at most 5 intervals", () => {
    for (const max of [0.5, 2, 9, 99, 101, 4999, 123_456, 2 ** 40, 9e15, 1e21]) {
      const { top, step } = niceScale(max);
      expect(top).toBeGreaterThanOrEqual(max);
      expect(Number.isInteger(step)).toBe(true);
      expect(top / step).toBeLessThanOrEqual(5);
      // Not needlessly coarse: one step less would not reach the maximum.
      expect(top - step).toBeLessThan(Math.max(1, max));
    }
  });

  it("treats a value that is not a count as 0", () => {
    expect(niceScale(NaN)).toEqual({ top: 1, step: 1 });
    expect(niceScale(-5)).toEqual({ top: 1, step: 1 });
    expect(niceScale(Infinity)).toEqual({ top: 1, step: 1 });
  });
});

describe("numbers and dates", () => {
  it("labels ticks compactly", () => {
    expect([0, 5, 950, 1000, 2500, 750_000, 1_250_000, 1e9, 3e12].map(compactNumber)).toEqual(["0", "5", "950", "1k", "2.5k", "750k", "1.25M", "1B", "3T"]);
  });

  it("groups digits by thousands, whatever the size", () => {
    expect([0, 7, 1234, 1_000_000, 1e21].map(groupDigits)).toEqual(["0", "7", "1,234", "1,000,000", "1,000,000,000,000,000,000,000"]);
  });

  it("writes UTC days as people read them", () => {
    expect(shortDate(NOV_30_2026)).toBe("30 Nov");
    expect(shortDate(NOV_30_2026 - 29)).toBe("1 Nov");
    expect(longDate(NOV_30_2026 + 32)).toBe("1 Jan 2027");
    expect(longDate(0)).toBe("1 Jan 1970");
  });
});

describe("statsChart", () => {
  it("draws one bar per day, as tall as its count, with its date and counts in a tooltip", () => {
    const html = statsChart(window30({ 0: 40, 11: 210, 29: 105 }, { 11: { messagesDelivered: 198 } }));
    const b = bars(html);
    expect(b).toHaveLength(30);
    expect(b[0]!.title).toBe("1 Nov 2026: 40 messages sent, 0 delivered");
    expect(b[11]!.title).toBe("12 Nov 2026: 210 messages sent, 198 delivered");
    expect(b[29]!.title).toBe("30 Nov 2026: 105 messages sent, 0 delivered");
    // On the same scale (0 to 250): 210 is twice 105 is twice and a bit 40.
    expect(b[11]!.height).toBeCloseTo(2 * b[29]!.height, 1);
    expect(b[29]!.height / b[0]!.height).toBeCloseTo(105 / 40, 1);
    // Every bar stands on the same baseline; the empty days have no height.
    expect(new Set(b.map((x) => Math.round((x.y + x.height) * 100)))).toHaveProperty("size", 1);
    expect(b.filter((x) => x.height === 0)).toHaveLength(27);
    expect(ticks(html)).toEqual(["0", "50", "100", "150", "200", "250"]);
  });

  it("says what it shows in words: the aria-label and a caption", () => {
    const html = statsChart(window30({ 0: 40, 11: 210, 20: 210, 29: 984 }));
    expect(ariaLabel(html)).toBe("Messages sent per day, last 30 days: 1,444 in total, most on 30 Nov (984)");
    expect(html).toMatch(/<svg [^>]*role="img"/);
    expect(html).toContain("<figcaption>1,444 messages sent in the last 30 days (1 Nov to 30 Nov 2026, UTC), 0 delivered; the busiest day was 30 Nov 2026, with 984.</figcaption>");
    // A tie goes to the earlier day.
    expect(ariaLabel(statsChart(window30({ 11: 210, 20: 210 })))).toContain("most on 12 Nov (210)");
  });

  it("labels the first and the last day", () => {
    const labels = [...statsChart(window30({})).matchAll(/<text class="label"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(labels).toEqual(["1 Nov", "30 Nov"]);
  });

  it("with no messages at all: a baseline, a scale up to 1, and says so", () => {
    const html = statsChart(window30({}));
    const b = bars(html);
    expect(b).toHaveLength(30);
    expect(b.every((x) => x.height === 0)).toBe(true);
    expect(html).toContain('<line class="axis"');
    expect(ticks(html)).toEqual(["0", "1"]);
    expect(ariaLabel(html)).toBe("Messages sent per day, last 30 days: none");
    expect(html).toContain("No messages were sent through this relay in the last 30 days");
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
  });

  it("with one huge day, the quiet days still show, and a billion reads as 1B", () => {
    const html = statsChart(window30({ 3: 1, 26: 1e9 }));
    const b = bars(html);
    expect(ticks(html)).toEqual(["0", "200M", "400M", "600M", "800M", "1B"]);
    const tallest = Math.max(...b.map((x) => x.height));
    expect(b[26]!.height).toBe(tallest);
    // One message next to a billion is a sliver, not nothing.
    expect(b[3]!.height).toBeGreaterThan(0);
    expect(b[3]!.height).toBeLessThan(tallest / 50);
    expect(b[3]!.title).toBe("4 Nov 2026: 1 message sent, 0 delivered");
    expect(ariaLabel(html)).toBe("Messages sent per day, last 30 days: 1,000,000,001 in total, most on 27 Nov (1,000,000,000)");
  });

  it("stays finite and inside its box for values far past any relay's", () => {
    const html = statsChart(window30({ 0: 2 ** 40, 1: 9e15, 2: 1e21 }));
    expect(html).not.toMatch(/NaN|Infinity|e\+|undefined/);
    for (const x of bars(html)) {
      expect(x.y).toBeGreaterThanOrEqual(0);
      expect(x.y + x.height).toBeLessThanOrEqual(200);
    }
  });

  it("ignores stored values that are not counts (and nothing stored reaches the markup unescaped)", () => {
    const hostile = { messagesSent: "<script>alert(1)</script>", messagesDelivered: -3 } as unknown as Counts;
    const html = statsChart(window30({ 6: -1, 7: Infinity }, { 5: { messagesSent: NaN }, 8: hostile }));
    expect(bars(html).every((x) => x.height === 0)).toBe(true);
    expect(html).not.toContain("<script");
    expect(html).not.toMatch(/NaN|Infinity|-1|-3/);
    expect(ariaLabel(html)).toBe("Messages sent per day, last 30 days: none");
  });

  it("any number of days: none draws nothing, one labels itself once", () => {
    expect(statsChart([])).toBe("");
    const one = statsChart([{ day: NOV_30_2026, counts: { messagesSent: 3 } }]);
    expect(bars(one)).toHaveLength(1);
    expect(ariaLabel(one)).toBe("Messages sent per day, last day: 3 in total, most on 30 Nov (3)");
    expect([...one.matchAll(/class="label"/g)]).toHaveLength(1);
  });
});
