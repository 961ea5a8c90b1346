// `smp-relay dev`: a local relay through the test harness (startLocalRelay, Miniflare), for
// trying a client against it without wrangler or a clone; runs until Ctrl-C.
import process from "node:process";
import { parseArgs } from "node:util";
import { RELAY_VARS, startLocalRelay, type RelayVars } from "../testing/localRelay.js";

export const DEV_USAGE = `  smp-relay dev [--port PORT] [--persist DIR] [--var NAME=VALUE ...]
      Runs a relay on 127.0.0.1 (Miniflare, in this process) until Ctrl-C (exit code 130), and prints its
      smp:// address and ws:// URL. --persist keeps its storage (and so its address) in DIR;
      by default it is in memory. --var sets a setting, e.g. --var QUEUE_QUOTA=4
      (${RELAY_VARS.join(", ")}).
`;

/** Parsed `dev` arguments, or a usage error message. */
export function parseDevArgs(argv: string[]): { port?: number; persist?: string; vars: RelayVars } | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: { port: { type: "string" }, persist: { type: "string" }, var: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } },
    }));
  } catch (e) {
    return (e as Error).message;
  }
  if (values.help) return "help";
  const vars: RelayVars = {};
  for (const kv of values.var ?? []) {
    const eq = kv.indexOf("=");
    const name = kv.slice(0, eq);
    if (eq < 1 || !(RELAY_VARS as readonly string[]).includes(name)) return `--var ${kv}: expected NAME=VALUE with NAME one of ${RELAY_VARS.join(", ")}`;
    vars[name as keyof RelayVars] = kv.slice(eq + 1);
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) return `--port ${values.port}: expected a port number from 1 to 65535`;
  }
  return { port, persist: values.persist, vars };
}

/** Runs the relay until SIGINT or SIGTERM; returns the exit code (0, 1 failure, 2 usage). */
export async function runDev(argv: string[]): Promise<number> {
  const args = parseDevArgs(argv);
  if (args === "help") {
    process.stdout.write(`Usage:\n${DEV_USAGE}`);
    return 0;
  }
  if (typeof args === "string") {
    process.stderr.write(`smp-relay dev: ${args}\n\nUsage:\n${DEV_USAGE}`);
    return 2;
  }
  let relay;
  try {
    relay = await startLocalRelay({ ...args, onOutput: (s) => process.stderr.write(s) });
  } catch (e) {
    process.stderr.write(`smp-relay dev: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`relay address: ${relay.address}\nWebSocket URL: ${relay.wsUrl}\n(Ctrl-C stops it)\n`);
  // On Ctrl-C or SIGTERM, Miniflare's exit hook (registered first) ends workerd, removes its files
  // and exits 130 or 143 before this stop() finishes; the harness removes its own directory on
  // exit. Stopping here too keeps the relay's shutdown ours should that hook ever go.
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await relay.stop();
  return 0;
}
