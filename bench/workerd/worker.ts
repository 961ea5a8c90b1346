// GET /ops lists the operations; GET /run?op=I&n=N runs operation I N times, one after another.
import "../../src/server/nativeCrypto.js"; // the relay's native HKDF, so the figures are the relay's
import { makeOps, type Op } from "../ops.js";

let ops: Promise<Op[]> | null = null;
const MAX_N = 1_000_000;

export default {
  async fetch(request: Request): Promise<Response> {
    ops ??= makeOps();
    const list = await ops;
    const url = new URL(request.url);
    if (url.pathname === "/ops") return Response.json(list.map((o) => o.name));
    if (url.pathname !== "/run") return new Response("not found", { status: 404 });
    const op = list[Number(url.searchParams.get("op"))];
    const n = Number(url.searchParams.get("n"));
    if (op === undefined || !Number.isInteger(n) || n < 0 || n > MAX_N) return new Response("bad op or n", { status: 400 });
    for (let i = 0; i < n; i++) await op.run();
    return Response.json({ n });
  },
};
