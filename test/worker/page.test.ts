// The operator page at GET /, inside workerd: what it shows, that its QR code reads back as the
// relay's address, its security headers, that nothing interpolated escapes into markup, and its
// chart of messages per day (STATS=public) with the cache in front of the Stats object.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import encodeQR from "qr";
import { randomBytes } from "../../src/crypto/random.js";
import { formatAddress } from "../../src/protocol/address.js";
import { SMP_VERSION } from "../../src/protocol/hello.js";
import { DEFAULT_CONFIG, readConfig, type ConfigEnv, type RelayConfig } from "../../src/server/config.js";
import { escapeHtml, formatDuration, PAGE_HEADERS, pageView, qrSvg, renderOperatorPage } from "../../src/server/page.js";
import { PAGE_STATS_TTL_MS, pageStatsCache } from "../../src/server/pageStats.js";
import { STATS_OBJECT } from "../../src/server/stats.js";
import { shortDate } from "../../src/server/statsChart.js";
import { utcDay, type DayCounts } from "../../src/server/statsCounters.js";
import { dayWindow } from "../../src/server/statsReport.js";
import { shortLinkFor } from "../../src/client/links.js";
import { RELAY_VERSION, SOURCE_URL } from "../../src/server/version.js";
import { decodeSvgQr, svgModules } from "./qr-image.js";

const PASSWORD_NOTE = "needs a password";

async function health(url = "http://relay.test/health"): Promise<{ address: string }> {
  return (await (await SELF.fetch(url)).json()) as { address: string };
}

/** The page's one QR code (the chart, when there is one, is another SVG). */
function qrOf(html: string): string {
  const svgs = html.match(/<svg class="qr"[\s\S]*?<\/svg>/g) ?? [];
  expect(svgs).toHaveLength(1);
  return svgs[0]!;
}

/** Text content of the element with this id (no nested markup expected). */
function textById(html: string, id: string): string | null {
  const m = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html);
  return m ? m[1]! : null;
}

function unescapeHtml(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
}

function render(config: Partial<RelayConfig>, days?: DayCounts[]): string {
  return renderOperatorPage(pageView({ url: new URL("https://relay.example/"), keyHash: randomBytes(32), config: { ...DEFAULT_CONFIG, ...config }, days }));
}

// Counts in the Stats object before any page is fetched (wrangler.jsonc has STATS=public): the
// Worker keeps what it read for a minute, so every GET / in this file charts these.
const TODAY = utcDay(Date.now());
const STORED: DayCounts[] = [
  { day: TODAY - 40, counts: { messagesSent: 999_999 } }, // before the window
  { day: TODAY - 5, counts: { messagesSent: 1200, messagesDelivered: 1100 } },
  { day: TODAY, counts: { messagesSent: 34, messagesDelivered: 30 } },
];
beforeAll(async () => {
  const stats = env.STATISTICS.getByName(STATS_OBJECT);
  for (const d of STORED) await stats.add(d.day, d.counts);
});

describe("GET /", () => {
  it("is an HTML page with the address /health reports, as text and as a QR code that reads back", async () => {
    const res = await SELF.fetch("http://relay.test/");
    expect(res.status).toBe(200);
    const html = await res.text();
    const { address } = await health();
    expect(address).toMatch(/^smp:\/\/[A-Za-z0-9_-]{43}@relay\.test$/);

    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(textById(html, "address")).toBe(address);

    const svg = qrOf(html);
    // An independent decoder (jsQR) reads the modules the SVG draws.
    expect(decodeSvgQr(svg)).toBe(address);
    // And they are exactly the QR library's symbol for the address, quiet zone included.
    expect(svgModules(svg)).toEqual(encodeQR(address, "raw", { ecc: "medium", border: 4 }));
  });

  it("shows the version, the SMP version, the WebSocket URL, the limits and the source link", async () => {
    const html = await (await SELF.fetch("http://relay.test/")).text();
    const config = readConfig(env as unknown as ConfigEnv);
    expect(html).toContain(`smp-relay ${RELAY_VERSION}`);
    expect(html).toContain(`SMP version ${SMP_VERSION}`);
    expect(html).toContain("<code>ws://relay.test/</code>");
    expect(html).toContain("web clients over WebSocket");
    expect(html).toContain("TLS over TCP");
    expect(html).toContain(`for at most ${formatDuration(config.messageTtlSeconds)}`);
    expect(html).toContain(`At most ${config.queueQuota} per queue`);
    expect(html).toContain("no logs of queue ids or IP addresses");
    expect(html).toContain(`<a href="${SOURCE_URL}"`);
    // The note follows the relay's configuration (no QUEUE_PASSWORD in wrangler.jsonc).
    expect(html.includes(PASSWORD_NOTE)).toBe(config.queuePassword !== null);
  });

  it("over https names wss:// for web clients", async () => {
    const html = await (await SELF.fetch("https://relay.test/")).text();
    expect(html).toContain("<code>wss://relay.test/</code>");
  });

  it("sends strict security headers and loads nothing from elsewhere", async () => {
    const res = await SELF.fetch("http://relay.test/");
    const html = await res.text();
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const csp = res.headers.get("content-security-policy") ?? "";
    const directives = new Map(csp.split(/;\s*/).map((d) => [d.split(" ")[0]!, d.split(" ").slice(1)]));
    expect(directives.get("default-src")).toEqual(["'none'"]);
    expect(directives.get("style-src")).toEqual(["'unsafe-inline'"]);
    expect(directives.get("img-src")).toEqual(["data:"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    expect(directives.has("connect-src")).toBe(false);

    // The one inline script is allowed by its hash, and by nothing broader.
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(scripts[0]!)));
    expect(directives.get("script-src")).toEqual([`'sha256-${btoa(String.fromCharCode(...digest))}'`]);

    // No external assets: no src attributes, links only to the source and a data: icon.
    expect(html).not.toMatch(/\ssrc=/);
    expect([...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1])).toEqual(["data:,", SOURCE_URL]);
  });

  it("takes the host from the URL, not from a Host header the runtime did not route by", async () => {
    const res = await SELF.fetch("http://relay.test/", { headers: { Host: `evil"><script>alert(1)</script>` } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toContain("<script>alert");
    expect(textById(html, "address")).toBe((await health()).address);
  });
});

describe("renderOperatorPage", () => {
  it("notes the queue password only when one is set, and never shows it", () => {
    expect(render({ queuePassword: null })).not.toContain(PASSWORD_NOTE);
    const password = "s3cret-Pa55word!";
    const html = render({ queuePassword: password });
    expect(html).toContain(PASSWORD_NOTE);
    expect(html).not.toContain(password);
    expect(html).not.toContain(escapeHtml(password));
  });

  it("says when the relay takes no new queues", () => {
    const html = render({ allowNewQueues: false, queuePassword: "x" });
    expect(html).toContain("accepts no new queues");
    expect(render({})).not.toContain("accepts no new queues");
  });

  it("shows the configured limits", () => {
    const html = render({ messageTtlSeconds: 7200, queueQuota: 5 });
    expect(html).toContain("for at most 2 hours");
    expect(html).toContain("At most 5 per queue");
  });

  it("escapes a hostile host", () => {
    // URL parsing lets quotes and ampersands through into a host (workerd's fetch refuses such a
    // URL, so this goes through pageView; test/integration/browser.test.ts sends one over HTTP).
    const hostile = `x"onmouseover='alert(1)'&amp.test`;
    const url = new URL(`http://${hostile}/`);
    expect(url.host).toBe(hostile.toLowerCase());
    const keyHash = randomBytes(32);
    const html = renderOperatorPage(pageView({ url, keyHash, config: DEFAULT_CONFIG }));
    const address = formatAddress({ keyHash, host: url.host });
    expect(html).not.toContain(url.host);
    expect(html).not.toMatch(/"onmouseover/);
    expect(unescapeHtml(textById(html, "address")!)).toBe(address);
    expect(decodeSvgQr(qrOf(html))).toBe(address);
  });

  it("escapes everything it interpolates", () => {
    const view = pageView({ url: new URL("https://relay.example/"), keyHash: randomBytes(32), config: DEFAULT_CONFIG });
    const evil = `<img src=x onerror="alert(1)">&'`;
    const html = renderOperatorPage({ ...view, host: evil, address: evil, webSocketUrl: evil, version: evil, sourceUrl: evil });
    expect(html).not.toContain("<img");
    expect(html).not.toContain(`"alert(1)"`);
    expect(html).toContain(escapeHtml(evil));
    expect(decodeSvgQr(qrOf(html))).toBe(evil);
  });

  it("formats durations in the largest whole unit", () => {
    expect(formatDuration(1_814_400)).toBe("21 days");
    expect(formatDuration(86_400)).toBe("1 day");
    expect(formatDuration(5_400)).toBe("90 minutes");
    expect(formatDuration(61)).toBe("61 seconds");
  });

  it("draws the QR code for an address of any length the relay can have", () => {
    const address = formatAddress({ keyHash: randomBytes(32), host: `${"a".repeat(63)}.${"b".repeat(63)}.workers.dev:65535` });
    expect(decodeSvgQr(qrSvg(address, "label"))).toBe(address);
  });

  it("publishes the operator's contact address (CONTACT_LINK) as a link and a QR code that reads back", () => {
    const link = shortLinkFor({ keyHash: randomBytes(32), host: "relay.example" }, { mode: "C", linkKey: randomBytes(32) });
    const html = render({ contactLink: link });
    expect(html).toContain("Contact the operator");
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(2);
    expect(decodeSvgQr(svgs[1]!)).toBe(link);
    expect(html).toContain(`href="${escapeHtml(link)}"`);
    expect(render({})).not.toContain("Contact the operator");
  });
});

describe("CONTACT_LINK", () => {
  const link = (mode: "C" | "M"): string =>
    shortLinkFor({ keyHash: randomBytes(32), host: "relay.example" }, mode === "C" ? { mode, linkKey: randomBytes(32) } : { mode, linkKey: randomBytes(32), linkId: randomBytes(24) });
  it("takes a contact address's short link, and nothing else", () => {
    const ok = link("C");
    expect(readConfig({ CONTACT_LINK: ok } as ConfigEnv).contactLink).toBe(ok);
    expect(readConfig({ CONTACT_LINK: "" } as ConfigEnv).contactLink).toBeNull();
    expect(() => readConfig({ CONTACT_LINK: link("M") } as ConfigEnv)).toThrow(/not a one-time invitation/);
    expect(() => readConfig({ CONTACT_LINK: "https://relay.example/" } as ConfigEnv)).toThrow(/CONTACT_LINK is not a short link/);
  });
});


/** The chart's bars: each one's tooltip and height (viewBox units). */
function chartBars(html: string): { title: string; height: number }[] {
  return [...html.matchAll(/<g class="day"><title>([^<]*)<\/title><rect class="hit"[^>]*\/><rect class="bar" [^>]*height="([^"]+)"\/><\/g>/g)].map((m) => ({ title: m[1]!, height: Number(m[2]) }));
}

describe("the chart of messages per day", () => {
  it("GET / with STATS=public charts the last 30 days the Stats object holds", async () => {
    const res = await SELF.fetch("http://relay.test/");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("<h2>Activity</h2>");
    const svg = /<figure class="chart">\s*<svg [^>]*>/.exec(html)?.[0] ?? "";
    expect(svg).toContain('role="img"');
    expect(svg).toContain(`aria-label="Messages sent per day, last 30 days: 1,234 in total, most on ${shortDate(TODAY - 5)} (1,200)"`);
    const bars = chartBars(html);
    expect(bars).toHaveLength(30);
    expect(bars[24]!.title).toMatch(/: 1,200 messages sent, 1,100 delivered$/);
    expect(bars[29]!.title).toMatch(/: 34 messages sent, 30 delivered$/);
    expect(bars.filter((b) => b.height > 0)).toHaveLength(2);
    expect(Math.max(...bars.map((b) => b.height))).toBe(bars[24]!.height);
    expect(html).toContain("<figcaption>1,234 messages sent in the last 30 days");
    // The day before the window is not on the page.
    expect(html).not.toContain("999");
  });

  it("needs nothing the page's CSP does not already allow", async () => {
    const res = await SELF.fetch("http://relay.test/");
    const html = await res.text();
    expect(res.headers.get("content-security-policy")).toBe(PAGE_HEADERS["content-security-policy"]);
    expect(res.headers.get("content-security-policy")!.split("; ").map((d) => d.split(" ")[0])).toEqual([
      "default-src",
      "style-src",
      "img-src",
      "script-src",
      "base-uri",
      "form-action",
      "frame-ancestors",
    ]);
    const chart = /<figure class="chart">[\s\S]*?<\/figure>/.exec(html)?.[0] ?? "";
    expect(chart).not.toBe("");
    // Styled by the page's classes: no style attributes, scripts, links or external references.
    expect(chart).not.toMatch(/\sstyle=|<script|\shref=|\ssrc=|url\(|\son[a-z]+=/i);
  });

  it("is shown only with STATS=public, and only when the days were read", () => {
    const days = dayWindow(STORED, TODAY, 30);
    expect(render({ stats: "public" }, days)).toContain('<figure class="chart">');
    for (const stats of ["private", "off"] as const) {
      const html = render({ stats }, days);
      expect(html).not.toContain("Activity");
      expect(html).not.toContain('class="chart"');
      expect(html.match(/<svg/g)).toHaveLength(1);
    }
    // A failed read: the page without the chart.
    expect(render({ stats: "public" })).not.toContain("Activity");
  });

  it("says in the list of what the relay stores that it keeps daily totals, unless STATS=off", () => {
    expect(render({ stats: "public" })).toContain("<strong>Statistics:</strong>");
    expect(render({ stats: "private" })).toContain("<strong>Statistics:</strong>");
    expect(render({ stats: "off" })).not.toContain("<strong>Statistics:</strong>");
  });
});

describe("pageStatsCache", () => {
  /** A stand-in for the STATISTICS binding that counts reads. */
  function fakeStats(read: () => Promise<DayCounts[]>): { env: Pick<Env, "STATISTICS">; reads: () => number } {
    let reads = 0;
    const stub = {
      read: () => {
        reads++;
        return read();
      },
    };
    return { env: { STATISTICS: { getByName: () => stub } } as unknown as Pick<Env, "STATISTICS">, reads: () => reads };
  }
  const config = (stats: RelayConfig["stats"]): RelayConfig => ({ ...DEFAULT_CONFIG, stats });
  const now = TODAY * 86_400_000 + 3_600_000;

  it("reads the Stats object at most once a minute, and gives the last 30 days", async () => {
    const { env, reads } = fakeStats(async () => STORED);
    const pageStats = pageStatsCache();
    const first = await pageStats(env, config("public"), now);
    expect(first).toEqual(dayWindow(STORED, TODAY, 30));
    for (let i = 0; i < 100; i++) await pageStats(env, config("public"), now + i * 500);
    expect(reads()).toBe(1);
    await pageStats(env, config("public"), now + PAGE_STATS_TTL_MS);
    expect(reads()).toBe(2);
    // A clock that went back does not pin a stale read.
    await pageStats(env, config("public"), now);
    expect(reads()).toBe(3);
  });

  it("asks nothing with STATS=private or off", async () => {
    const { env, reads } = fakeStats(async () => STORED);
    const pageStats = pageStatsCache();
    expect(await pageStats(env, config("private"), now)).toBeNull();
    expect(await pageStats(env, config("off"), now)).toBeNull();
    expect(reads()).toBe(0);
  });

  it("a failed read means no chart, is logged, and is not retried on every view", async () => {
    const { env, reads } = fakeStats(async () => {
      throw new Error("overloaded");
    });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const pageStats = pageStatsCache();
      expect(await pageStats(env, config("public"), now)).toBeNull();
      expect(await pageStats(env, config("public"), now + 1000)).toBeNull();
      expect(reads()).toBe(1);
      expect(logged).toHaveBeenCalledTimes(1);
      expect(logged.mock.calls[0]).toEqual(["operator page: stats read failed", "overloaded"]);
    } finally {
      logged.mockRestore();
    }
  });
});
