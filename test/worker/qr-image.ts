// Turns the operator page's QR SVG back into pixels, so an independent decoder (jsQR) can read
// it: the check that the QR code really encodes the address, not only that some SVG is there.
import jsQR from "jsqr";

/** The dark modules of an SVG made of axis-aligned rectangles (`<path>` subpaths or `<rect>`s). */
export function svgModules(svg: string): boolean[][] {
  const vb = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  if (!vb || vb[1] !== vb[2]) throw new Error("no square viewBox");
  const size = Number(vb[1]);
  const grid = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const fill = (x0: number, y0: number, x1: number, y1: number): void => {
    if (x0 < 0 || y0 < 0 || x1 > size || y1 > size || x0 >= x1 || y0 >= y1) throw new Error(`rectangle outside the symbol: ${x0},${y0}-${x1},${y1}`);
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) grid[y]![x] = true;
  };
  for (const m of svg.matchAll(/<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"/g)) {
    const [x, y, w, h] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
    fill(x, y, x + w, y + h);
  }
  for (const m of svg.matchAll(/<path[^>]*\sd="([^"]*)"/g)) {
    const tokens = m[1]!.match(/[MmHhVvZz]|-?\d+(?:\.\d+)?/g) ?? [];
    let i = 0;
    const num = (): number => {
      const t = tokens[i++];
      if (t === undefined || !/\d/.test(t)) throw new Error(`expected a number at token ${i - 1}`);
      return Number(t);
    };
    let x = 0;
    let y = 0;
    let sub: [number, number][] = [];
    while (i < tokens.length) {
      const cmd = tokens[i++]!;
      switch (cmd) {
        case "M":
          x = num();
          y = num();
          sub = [[x, y]];
          break;
        case "m":
          x += num();
          y += num();
          sub = [[x, y]];
          break;
        case "H":
          x = num();
          break;
        case "h":
          x += num();
          break;
        case "V":
          y = num();
          break;
        case "v":
          y += num();
          break;
        case "Z":
        case "z": {
          // Closing returns the pen to the subpath's start; the subpath must be a rectangle.
          const xs = sub.map((p) => p[0]);
          const ys = sub.map((p) => p[1]);
          const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
          const corners = new Set(sub.map((p) => `${p[0]},${p[1]}`));
          if (corners.size !== 4 || ![`${x0},${y0}`, `${x1},${y0}`, `${x1},${y1}`, `${x0},${y1}`].every((c) => corners.has(c))) {
            throw new Error(`subpath is not a rectangle: ${JSON.stringify(sub)}`);
          }
          fill(x0, y0, x1, y1);
          [x, y] = sub[0]!;
          sub = [];
          continue;
        }
        default:
          throw new Error(`unsupported path command ${cmd}`);
      }
      if (cmd !== "M" && cmd !== "m") sub.push([x, y]);
    }
    if (sub.length > 1) throw new Error("unclosed subpath");
  }
  return grid;
}

/** Black modules on white, `scale` pixels each, as RGBA. */
export function rasterize(grid: boolean[][], scale = 4): { data: Uint8ClampedArray; width: number; height: number } {
  const width = grid.length * scale;
  const data = new Uint8ClampedArray(width * width * 4).fill(255);
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < width; x++) {
      if (grid[Math.floor(y / scale)]![Math.floor(x / scale)]) data.fill(0, (y * width + x) * 4, (y * width + x) * 4 + 3);
    }
  }
  return { data, width, height: width };
}

/** The text of the QR code drawn by `svg`, read by jsQR; null when it finds none. */
export function decodeSvgQr(svg: string): string | null {
  const { data, width, height } = rasterize(svgModules(svg));
  return jsQR(data, width, height, { inversionAttempts: "dontInvert" })?.data ?? null;
}
