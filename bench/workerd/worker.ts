// GET /ops lists the operations; GET /run?op=I&n=N runs operation I N times, one after another.
// The operations: bench/ops.ts's, then the 16 KB secretbox on both backends (cipher.ts), libsodium
// started the relay's way (src/server/sodium.ts: the generated loader, the .wasm imported as a
// compiled module), inside the first request: workerd forbids random bytes at global scope. As in
// the relay, ops.ts's blocks are sealed on libsodium.
import "../../src/server/nativeCrypto.js"; // the relay's native HKDF, so the figures are the relay's
import { useSecretbox } from "../../src/crypto/secretboxBackend.js";
import { createLibsodiumSecretbox } from "../../src/crypto/sodium.js";
import { WORKER_LIBSODIUM } from "../../src/server/sodium.js";
import { makeOps, type Op } from "../ops.js";
import { cipherOps } from "./cipher.js";

let ops: Promise<Op[]> | null = null;
const MAX_N = 1_000_000;

async function allOps(): Promise<Op[]> {
  const sodium = await createLibsodiumSecretbox(WORKER_LIBSODIUM);
  if (!useSecretbox(sodium)) throw new Error("libsodium disagrees with @noble/ciphers");
  return [...(await makeOps()), ...cipherOps(sodium)];
}

export default {
  async fetch(request: Request): Promise<Response> {
    ops ??= allOps();
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
