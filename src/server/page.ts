// The operator page at GET /: the relay's address with a QR code (SVG, drawn here), what the relay
// keeps and for how long, messages per day (STATS=public; a chart drawn in statsChart.ts), its
// version and its source. One self-contained HTML document: inline CSS, no external assets,
// readable without JavaScript (a tiny inline script only adds a copy button, allowed by its hash
// in the Content-Security-Policy).
import { sha256 } from "@noble/hashes/sha2.js";
import encodeQR from "qr";
import { formatAddress } from "../protocol/address.js";
import { base64 } from "../protocol/base64.js";
import { SMP_VERSION } from "../protocol/hello.js";
import type { RelayConfig } from "./config.js";
import type { DayCounts } from "./statsCounters.js";
import { statsChart } from "./statsChart.js";
import { RELAY_VERSION, SOURCE_URL } from "./version.js";

export interface OperatorPageInput {
  /** The URL the page was requested with: its host goes into the address. */
  url: URL;
  keyHash: Uint8Array;
  config: RelayConfig;
  /**
   * The days to chart, oldest first, one per day (pageStats.ts: the last 30); absent or null for
   * no chart. Charted only when config.stats is "public".
   */
  days?: readonly DayCounts[] | null;
}

/** Everything the page shows, derived from the request and the relay's settings. */
export interface OperatorPageView {
  host: string;
  /** smp://<keyHash>@<host> */
  address: string;
  /** ws(s)://<host>/, where web clients connect. */
  webSocketUrl: string;
  config: RelayConfig;
  version: string;
  smpVersion: number;
  sourceUrl: string;
  /** The days the chart shows, or null for no "Activity" section. */
  days: readonly DayCounts[] | null;
}

export function pageView(input: OperatorPageInput): OperatorPageView {
  const host = input.url.host;
  return {
    host,
    address: formatAddress({ keyHash: input.keyHash, host }),
    webSocketUrl: `${input.url.protocol === "https:" ? "wss" : "ws"}://${host}/`,
    config: input.config,
    version: RELAY_VERSION,
    smpVersion: SMP_VERSION,
    sourceUrl: SOURCE_URL,
    days: input.config.stats === "public" ? (input.days ?? null) : null,
  };
}

/** Text for an HTML element's content or a double- or single-quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The QR code of `text` as an SVG element: the `qr` library's own SVG (one 1×1 square per dark
 * module, a quiet zone of 4 modules), with presentation attributes added. Medium error
 * correction: the address is short, so the symbol stays small enough for a phone to read.
 */
export function qrSvg(text: string, label: string): string {
  const svg = encodeQR(text, "svg", { ecc: "medium", border: 4 });
  if (!svg.startsWith("<svg ")) throw new Error("unexpected QR SVG output");
  return `<svg class="qr" role="img" aria-label="${escapeHtml(label)}" shape-rendering="crispEdges" fill="#000" ${svg.slice(5)}`;
}

/** "21 days", "1 hour", "90 seconds": the largest whole unit. */
export function formatDuration(seconds: number): string {
  const units: [number, string][] = [
    [86_400, "day"],
    [3_600, "hour"],
    [60, "minute"],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) return plural(seconds / size, name);
  }
  return plural(seconds, "second");
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

// The copy button: hidden in the markup, shown and wired only when scripts run.
const COPY_SCRIPT = `
const button = document.getElementById("copy");
const address = document.getElementById("address");
button.hidden = false;
button.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(address.textContent);
    button.textContent = "Copied";
  } catch {
    getSelection().selectAllChildren(address);
    button.textContent = "Selected";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
});
`;

const COPY_SCRIPT_HASH = `sha256-${base64.encode(sha256(new TextEncoder().encode(COPY_SCRIPT)))}`;

/** Response headers of the page: nothing loads but the document itself and its inline script. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src data:",
    `script-src '${COPY_SCRIPT_HASH}'`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --box: #f3f4f6; --line: #d0d7de; --accent: #0b5cad; --note: #fff8c5; --note-line: #d4a72c; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --box: #161b22; --line: #30363d; --accent: #58a6ff; --note: #2b2111; --note-line: #9e6a03; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
main { max-width: 42rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
p, ul { margin: .5rem 0; }
ul { padding-left: 1.25rem; }
li { margin: .35rem 0; }
a { color: var(--accent); }
.lead { color: var(--muted); margin-top: 0; }
.address { display: flex; gap: .5rem; align-items: stretch; margin: 1rem 0; }
.address code { flex: 1; min-width: 0; padding: .6rem .75rem; background: var(--box); border: 1px solid var(--line); border-radius: 8px; font: 15px/1.4 ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; word-break: break-all; line-break: anywhere; user-select: all; }
.address button { flex: none; padding: 0 1rem; font: inherit; color: var(--fg); background: var(--box); border: 1px solid var(--line); border-radius: 8px; cursor: pointer; }
.address button:hover { border-color: var(--accent); }
.qr-box { display: flex; justify-content: center; }
.qr { display: block; width: 100%; max-width: 18rem; height: auto; background: #fff; border-radius: 8px; }
.note { padding: .6rem .75rem; background: var(--note); border: 1px solid var(--note-line); border-radius: 8px; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.chart { margin: 1rem 0 0; }
.chart svg { display: block; width: 100%; max-width: 36rem; height: auto; }
.chart .bar { fill: var(--accent); }
.chart .day:hover .bar { fill: var(--fg); }
.chart .hit { fill: transparent; }
.chart .axis { stroke: var(--muted); vector-effect: non-scaling-stroke; }
.chart .grid { stroke: var(--line); stroke-dasharray: 3 3; vector-effect: non-scaling-stroke; }
.chart text { fill: var(--muted); font-size: 12px; }
@media (max-width: 30rem) { .chart text { font-size: 14px; } }
.chart figcaption { margin-top: .5rem; color: var(--muted); font-size: .9rem; }
footer { margin-top: 2.5rem; padding-top: 1rem; border-top: 1px solid var(--line); color: var(--muted); font-size: .9rem; }
`;

// Unless STATS=off, what is counted is stored too (stats.ts).
const STATS_ITEM = "<li><strong>Statistics:</strong> relay-wide totals per UTC day (connections, queues, messages, commands), kept for the operator; no ids or addresses in them.</li>\n";

export function renderOperatorPage(v: OperatorPageView): string {
  const e = escapeHtml;
  const { config } = v;
  const notes: string[] = [];
  if (!config.allowNewQueues) {
    notes.push("This relay accepts no new queues at the moment. Queues created earlier keep working.");
  } else if (config.queuePassword !== null) {
    notes.push(
      "Creating a queue on this relay needs a password, which its operator gives out. Sending to and receiving from existing queues does not.",
    );
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>SMP relay at ${e(v.host)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>SMP relay</h1>
<p class="lead">A relay for the SimpleX Messaging Protocol, running on Cloudflare Workers.</p>

<h2>Address</h2>
<div class="address"><code id="address">${e(v.address)}</code><button id="copy" type="button" hidden>Copy</button></div>
${notes.map((n) => `<p class="note">${e(n)}</p>`).join("\n")}
<div class="qr-box">${qrSvg(v.address, `QR code of the address ${v.address}`)}</div>

${config.contactLink === null ? "" : contactSection(config.contactLink)}
<h2>Who can use it</h2>
<p>It serves <strong>web clients over WebSocket</strong>, at <code>${e(v.webSocketUrl)}</code>. The SimpleX Chat apps for phones and computers connect with TLS over TCP, which a Cloudflare Worker cannot accept, so they cannot use this relay directly.</p>

<h2>What it stores, and for how long</h2>
<ul>
<li><strong>Queues:</strong> each queue's public keys and the per-queue DH secret used to encrypt messages for its recipient, until the queue is deleted.</li>
<li><strong>Pending messages</strong>, encrypted for the recipient: each until the recipient acknowledges it, and for at most ${e(formatDuration(config.messageTtlSeconds))}. At most ${e(String(config.queueQuota))} per queue.</li>
<li><strong>Connections:</strong> the session keys of an open connection and which queues it subscribed to, only while it is open.</li>
${config.stats === "off" ? "" : STATS_ITEM}<li><strong>Nothing else:</strong> no message history (an acknowledged message is deleted), and no logs of queue ids or IP addresses.</li>
</ul>
${v.days === null ? "" : activitySection(v.days)}
<footer>
<p>smp-relay ${e(v.version)} · SMP version ${e(String(v.smpVersion))} · <a href="${e(v.sourceUrl)}" rel="noopener noreferrer">source code</a></p>
</footer>
</main>
<script>${COPY_SCRIPT}</script>
</body>
</html>
`;
}

/** The operator's published contact address (CONTACT_LINK): the link and its QR code. */
function contactSection(link: string): string {
  const e = escapeHtml;
  return `<h2>Contact the operator</h2>
<p>A SimpleX contact address hosted on this relay: open the link, or scan the code, with a SimpleX client.</p>
<div class="address"><code id="contact-link"><a href="${e(link)}" rel="noopener noreferrer">${e(link)}</a></code></div>
<div class="qr-box">${qrSvg(link, `QR code of the contact address ${link}`)}</div>
`;
}

/** Messages per day (STATS=public): the chart and what is counted. */
function activitySection(days: readonly DayCounts[]): string {
  return `<h2>Activity</h2>
<p>Messages sent through this relay per day (UTC). Only daily totals are counted: no queue ids, no IP addresses.</p>
${statsChart(days)}
`;
}

/** The page as a response with its security headers. */
export function operatorPage(input: OperatorPageInput): Response {
  return new Response(renderOperatorPage(pageView(input)), { headers: { ...PAGE_HEADERS } });
}
