// What `wrangler dev` will give the Worker as vars and secrets (wrangler.jsonc "vars", then
// .dev.vars, or the --env-file files instead, then --var), read with wrangler's own functions so
// the result is exactly what the relay sees; and the relay's checks of them.
import { createServer } from "node:net";
import { unstable_getVarsForDev, unstable_readConfig } from "wrangler";
import { ConfigError, readConfig, type RelayConfig } from "../src/server/config.js";
import type { RelayIdentity } from "../src/server/identity.js";
import { identityFromSecrets, routingKeyFromSecret } from "../src/server/identitySecrets.js";

export interface DevArgs {
  ip: string;
  port: number;
  /** Arguments for `wrangler dev` after --ip and --port. */
  rest: string[];
  config?: string;
  env?: string;
  envFiles: string[];
  vars: Record<string, string>;
}

/** Splits `npm run dev -- …` arguments: --ip/--port are ours (defaults 127.0.0.1:8787), the rest passes through. */
export function parseDevArgs(argv: string[]): DevArgs {
  const a: DevArgs = { ip: "127.0.0.1", port: 8787, rest: [], envFiles: [], vars: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const [flag, inline] = arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--ip":
        a.ip = value();
        continue;
      case "--port": {
        const v = value();
        a.port = Number(v);
        if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be a port number, got "${v}"`);
        continue;
      }
      case "--config":
      case "-c":
        a.config = value();
        a.rest.push("--config", a.config);
        continue;
      case "--env":
      case "-e":
        a.env = value();
        a.rest.push("--env", a.env);
        continue;
      case "--env-file": {
        const v = value();
        a.envFiles.push(v);
        a.rest.push("--env-file", v);
        continue;
      }
      case "--var": {
        const v = value();
        const colon = v.indexOf(":");
        if (colon > 0) a.vars[v.slice(0, colon)] = v.slice(colon + 1);
        a.rest.push("--var", v);
        continue;
      }
      default:
        a.rest.push(arg);
    }
  }
  return a;
}

/** The vars and secrets the Worker will get under `wrangler dev` with these arguments, as strings. */
export function devVars(args: Pick<DevArgs, "config" | "env" | "envFiles" | "vars">): Record<string, string> {
  const config = unstable_readConfig({ config: args.config, env: args.env }, { hideWarnings: true });
  const bindings = unstable_getVarsForDev(
    config.configPath,
    args.envFiles.length > 0 ? args.envFiles : undefined,
    config.vars,
    args.env,
    true,
    config.secrets,
  );
  const out: Record<string, string> = {};
  for (const [k, b] of Object.entries(bindings)) {
    const v = (b as { value: unknown }).value;
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return { ...out, ...args.vars };
}

/** The relay's own start checks: config vars, then identity secrets. Throws ConfigError naming the variable. */
export async function checkDevVars(vars: Record<string, string>): Promise<{ config: RelayConfig; identity: RelayIdentity | null }> {
  const config = readConfig(vars);
  const identity = await identityFromSecrets(vars);
  routingKeyFromSecret(vars);
  return { config, identity };
}

/**
 * Whether something already listens on ip:port. Checked before wrangler starts: otherwise the
 * /health poll would find that other server (perhaps another relay) and announce its address.
 */
export function portTaken(ip: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    // Any other error (an address not on this machine, …) is for wrangler to report.
    s.once("error", (e: NodeJS.ErrnoException) => res(e.code === "EADDRINUSE"));
    s.listen({ host: ip, port, exclusive: true }, () => s.close(() => res(false)));
  });
}

export { ConfigError };
