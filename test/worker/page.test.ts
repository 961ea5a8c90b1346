// The operator page at GET /, inside workerd: what it shows, that its QR code reads back as the
// relay's address, its security headers, and that nothing interpolated escapes into markup.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import encodeQR from "qr";
import { randomBytes } from "../../src/crypto/random.js";
import { formatAddress } from "../../src/protocol/address.js";
import { SMP_VERSION } from "../../src/protocol/hello.js";
import { DEFAULT_CONFIG, readConfig, type ConfigEnv, type RelayConfig } from "../../src/server/config.js";
import { escapeHtml, formatDuration, pageView, qrSvg, renderOperatorPage } from "../../src/server/page.js";
import { shortLinkFor } from "../../src/client/links.js";
import { RELAY_VERSION, SOURCE_URL } from "../../src/server/version.js";
import { decodeSvgQr, svgModules } from "./qr-image.js";

const PASSWORD_NOTE = "needs a password";

async function health(url = "http://relay.test/health"): Promise<{ address: string }> {
  return (await (await SELF.fetch(url)).json()) as { address: string };
}

function qrOf(html: string): string {
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
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

function render(config: Partial<RelayConfig>, host = "relay.example"): string {
  return renderOperatorPage(pageView({ url: new URL(`https://${host}/`), keyHash: randomBytes(32), config: { ...DEFAULT_CONFIG, ...config } }));
}

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

