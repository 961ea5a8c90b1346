// The bench's chart: SEND → MSG latency (p50 solid, p99 dashed) and throughput against the load,
// for the relay and the baselines, as a hand-written SVG (no chart library). The load is closed
// loop: Q queues in flight, one message outstanding per queue, so the offered load grows with Q
// until a system saturates, after which only its latency grows.

export interface ChartPoint {
  /** Queues in flight. */
  queues: number;
  p50: number;
  p99: number;
  msgsPerS: number;
  /** The relay only: wire-to-wire p50 (the clients' own work left out). */
  wireP50?: number;
}

export interface ChartSeries {
  label: string;
  color: string;
  points: ChartPoint[];
}

export interface ChartOptions {
  title: string;
  subtitle: string;
}

const W = 1000;
const H = 520;
const FONT = "font-family=\"Helvetica, Arial, sans-serif\"";

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const n2 = (v: number): string => (Math.round(v * 10) / 10).toString();

/** 1, 2, 5 × 10^k ticks covering [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

function fmtTick(v: number): string {
  if (v >= 1000) return `${n2(v / 1000)}k`.replace(".0k", "k");
  if (v >= 1) return String(Math.round(v * 100) / 100);
  return String(Number(v.toPrecision(2)));
}

interface Frame {
  x0: number;
  y0: number;
  w: number;
  h: number;
}

function polyline(pts: [number, number][], color: string, dash: string | null, width: number): string {
  if (pts.length === 0) return "";
  const d = pts.map(([x, y], i) => `${i === 0 ? "M" : "L"}${n2(x)},${n2(y)}`).join(" ");
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ""} stroke-linejoin="round"/>`;
}

function markers(pts: [number, number][], color: string, hollow = false): string {
  return pts.map(([x, y]) => `<circle cx="${n2(x)}" cy="${n2(y)}" r="3.5" fill="${hollow ? "white" : color}" stroke="${color}" stroke-width="1.5"/>`).join("");
}

export function renderChart(series: ChartSeries[], opts: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  const qs = [...new Set(all.map((p) => p.queues))].sort((a, b) => a - b);
  const qLo = Math.min(...qs, 1);
  const qHi = Math.max(...qs, 2);
  const lat = all.flatMap((p) => [p.p50, p.p99, p.wireP50 ?? NaN]).filter((v) => Number.isFinite(v) && v > 0);
  const latLo = 10 ** Math.floor(Math.log10(Math.min(...lat)));
  const latHi = 10 ** Math.ceil(Math.log10(Math.max(...lat)));
  // Throughput on a log scale too: the baselines run an order of magnitude faster than the relay.
  const rates = all.map((p) => p.msgsPerS).filter((v) => Number.isFinite(v) && v > 0);
  const rateLo = rates.length > 0 ? 10 ** Math.floor(Math.log10(Math.min(...rates))) : 1;
  const rateHi = Math.max(rateLo * 10, rates.length > 0 ? 10 ** Math.ceil(Math.log10(Math.max(...rates))) : 10);

  const left: Frame = { x0: 70, y0: 110, w: 520, h: 340 };
  const right: Frame = { x0: 690, y0: 110, w: 280, h: 340 };
  const xq = (f: Frame, q: number): number => f.x0 + ((Math.log(q) - Math.log(qLo)) / (Math.log(qHi) - Math.log(qLo))) * f.w;
  const yLat = (v: number): number => left.y0 + left.h - ((Math.log(v) - Math.log(latLo)) / (Math.log(latHi) - Math.log(latLo))) * left.h;
  const yRate = (v: number): number => right.y0 + right.h - ((Math.log(v) - Math.log(rateLo)) / (Math.log(rateHi) - Math.log(rateLo))) * right.h;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(opts.title)}</text>`);
  out.push(`<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">${esc(opts.subtitle)}</text>`);

  // Legend: one entry per series, and the line styles on a row of their own below.
  let lx = 70;
  let ly = 60;
  for (const s of series) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    out.push(`<circle cx="${lx + 12}" cy="${ly}" r="3.5" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${esc(s.label)}</text>`);
    lx += 40 + s.label.length * 6.6;
  }
  lx = 70;
  ly += 17;
  const styles: [string, string | null][] = [["p50", null], ["p99", "7 4"]];
  if (all.some((p) => p.wireP50 !== undefined)) styles.push(["relay p50 wire to wire (clients' work left out)", "2 3"]);
  for (const [label, dash] of styles) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="#333" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
    out.push(`<text x="${lx + 34}" y="${ly + 4}">${esc(label)}</text>`);
    lx += 44 + label.length * 6.2;
  }

  const grid = (f: Frame, yTicks: number[], y: (v: number) => number, yLabel: string, title: string, xLabel: string): void => {
    out.push(`<text x="${f.x0 + f.w / 2}" y="${f.y0 - 10}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
    out.push(`<rect x="${f.x0}" y="${f.y0}" width="${f.w}" height="${f.h}" fill="none" stroke="#999"/>`);
    for (const v of yTicks) {
      const yy = y(v);
      out.push(`<line x1="${f.x0}" y1="${n2(yy)}" x2="${f.x0 + f.w}" y2="${n2(yy)}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${f.x0 - 6}" y="${n2(yy + 4)}" text-anchor="end" fill="#333">${fmtTick(v)}</text>`);
    }
    for (const q of qs) {
      const xx = xq(f, q);
      out.push(`<line x1="${n2(xx)}" y1="${f.y0}" x2="${n2(xx)}" y2="${f.y0 + f.h}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${n2(xx)}" y="${f.y0 + f.h + 16}" text-anchor="middle" fill="#333">${q}</text>`);
    }
    out.push(`<text x="${f.x0 + f.w / 2}" y="${f.y0 + f.h + 36}" text-anchor="middle">${esc(xLabel)}</text>`);
    const cy = f.y0 + f.h / 2;
    out.push(`<text x="${f.x0 - 48}" y="${cy}" text-anchor="middle" transform="rotate(-90 ${f.x0 - 48} ${cy})">${esc(yLabel)}</text>`);
  };
  grid(left, logTicks(latLo, latHi), yLat, "SEND → MSG latency, ms (log scale)", "Latency against load", "queues in flight (closed loop: one message outstanding per queue; log scale)");
  grid(right, logTicks(rateLo, rateHi), yRate, "delivered messages per second (log scale)", "Throughput against load", "queues in flight (log scale)");

  for (const s of series) {
    const pts = [...s.points].sort((a, b) => a.queues - b.queues);
    const p50 = pts.filter((p) => p.p50 > 0).map((p): [number, number] => [xq(left, p.queues), yLat(p.p50)]);
    const p99 = pts.filter((p) => p.p99 > 0).map((p): [number, number] => [xq(left, p.queues), yLat(p.p99)]);
    const wire = pts.filter((p) => (p.wireP50 ?? 0) > 0).map((p): [number, number] => [xq(left, p.queues), yLat(p.wireP50 as number)]);
    const rate = pts.filter((p) => Number.isFinite(p.msgsPerS) && p.msgsPerS > 0).map((p): [number, number] => [xq(right, p.queues), yRate(p.msgsPerS)]);
    out.push(polyline(p99, s.color, "7 4", 1.5), polyline(wire, s.color, "2 3", 2), polyline(p50, s.color, null, 2.5));
    out.push(markers(p50, s.color), markers(p99, s.color, true));
    out.push(polyline(rate, s.color, null, 2.5), markers(rate, s.color));
  }
  out.push(`<text x="${W - 10}" y="${H - 8}" text-anchor="end" fill="#777" font-size="10">npm run bench (bench/chart.ts)</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}
