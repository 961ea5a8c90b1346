// `npm run dev`: checks the relay's config (wrangler.jsonc "vars", .dev.vars) and identity secrets
// before anything starts, runs `wrangler dev --ip 127.0.0.1 --port 8787` (extra arguments pass
// through: `npm run dev -- --port 9000`), waits for /health and prints the relay's address.
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import process from "node:process";
import { ConfigError, checkDevVars, devVars, parseDevArgs, portTaken, type DevArgs } from "./devEnv.js";

const ROOT = resolve(import.meta.dirname, "..");

async function main(): Promise<number> {
  let args: DevArgs;
  try {
    args = parseDevArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`npm run dev: ${(e as Error).message}\n`);
    return 2;
  }
  let usesSecrets: boolean;
  try {
    usesSecrets = (await checkDevVars(devVars(args))).identity !== null;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const from = args.envFiles.length > 0 ? args.envFiles.join(", ") : ".dev.vars";
    process.stderr.write(`\nnpm run dev: the relay's configuration is invalid, not starting.\n  ${e.message}\n(set in wrangler.jsonc "vars", ${from} or --var)\n\n`);
    return 1;
  }

  if (args.port !== 0 && (await portTaken(args.ip, args.port))) {
    process.stderr.write(`\nnpm run dev: port ${args.port} on ${args.ip} is taken (another relay or program listens there), not starting.\n(pick another: npm run dev -- --port ${args.port + 1})\n\n`);
    return 1;
  }

  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), ["dev", "--ip", args.ip, "--port", String(args.port), ...args.rest], {
    cwd: process.cwd(),
    stdio: "inherit",
    // The relay never reads Request.cf: skip wrangler's download of it (it only warns offline).
    env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", ...process.env },
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    // Importing wrangler (devEnv.ts) installs handlers that exit at once; this process must
    // instead pass the signal on and exit with wrangler, so that no workerd is left behind.
    process.removeAllListeners(sig);
    process.on(sig, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    });
  }
  const exited = new Promise<number>((res) =>
    child.on("exit", (code, signal) => res(code ?? (signal ? 128 + (signalNumber[signal] ?? 1) : 1))),
  );
  const host = args.ip.includes(":") ? `[${args.ip}]` : args.ip;
  const base = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${args.port}`;
  void announce(base, usesSecrets, () => child.exitCode !== null || child.signalCode !== null);
  return exited;
}

const signalNumber: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Polls /health until the relay answers, then prints its address where it cannot be missed. */
async function announce(base: string, usesSecrets: boolean, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!gone() && Date.now() < deadline) {
    try {
      const r = await fetch(`${base}/health`);
      const h = (await r.json()) as { status?: string; address?: string; error?: string };
      if (h.status === "ok" && h.address) {
        const ws = base.replace(/^http/, "ws") + "/";
        const lines = [
          "SMP relay is running",
          "",
          `address:    ${h.address}`,
          `WebSocket:  ${ws}`,
          `page:       ${base}/`,
          `identity:   ${usesSecrets ? "from the secrets RELAY_CA_CERT, RELAY_ONLINE_CERT, RELAY_ONLINE_KEY" : "made and kept by the relay (local storage)"}`,
        ];
        const width = Math.max(...lines.map((l) => l.length));
        const bar = "═".repeat(width + 2);
        process.stdout.write(`\n╔${bar}╗\n${lines.map((l) => `║ ${l.padEnd(width)} ║`).join("\n")}\n╚${bar}╝\n\n`);
        return;
      }
      if (h.status === "error") {
        process.stderr.write(`\nnpm run dev: the relay refuses to serve: ${h.error ?? "unknown error"}\n\n`);
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

process.exitCode = await main();
