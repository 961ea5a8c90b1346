// Checks made once per isolate, on the first request (Workers have no start hook): the config
// vars, the identity secrets and RELAY_ROUTING_KEY. While either is bad the relay refuses every request with 500
// and a message naming the variable, instead of failing later inside a connection.
import { ConfigError, readConfig } from "./config.js";
import { identityFromEnvSecrets, routingKeyFromEnvSecret } from "./identityStore.js";
import { RELAY_VERSION } from "./version.js";

/** The Worker's environment as plain strings (vars and secrets). */
export function envVars(env: Env): Record<string, string | undefined> {
  return env as unknown as Record<string, string | undefined>;
}

let checked: Promise<string | null> | null = null;

/** null when the relay may serve; otherwise the reason, logged once per isolate. */
export function startupError(env: Env): Promise<string | null> {
  if (checked === null) {
    checked = (async (): Promise<string | null> => {
      try {
        readConfig(envVars(env));
        await identityFromEnvSecrets(env);
        routingKeyFromEnvSecret(env);
        return null;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        console.error(`smp-relay: refusing to serve: ${e.message}`);
        return e.message;
      }
    })();
    // An unexpected failure is retried on the next request; a ConfigError stays (env is fixed per isolate).
    checked.catch(() => {
      checked = null;
    });
  }
  return checked;
}

/** The answer to every request while the configuration is bad: JSON for /health, text otherwise. */
export function refusal(request: Request, message: string): Response {
  const url = new URL(request.url);
  const upgrade = request.headers.get("Upgrade")?.toLowerCase() === "websocket";
  if (url.pathname === "/health" && !upgrade) {
    return Response.json({ status: "error", version: RELAY_VERSION, error: message }, { status: 500 });
  }
  return new Response(`smp-relay configuration error: ${message}\n`, {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
