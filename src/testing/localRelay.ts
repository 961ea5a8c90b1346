// startLocalRelay(): the relay's Worker and its three Durable Objects running in this process
// through Miniflare's API (workerd as a child process Miniflare manages), on 127.0.0.1 and a
// free port, for another project's tests. No wrangler and no sources: it runs the Worker the
// build bundled (dist/worker/worker.js) with the settings of the wrangler config (relay.json).
import { mkdtempSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { parseAddress } from "../protocol/address.js";
import { readWorkerBundle, type WorkerBundle } from "./workerConfig.js";

/** The relay's settings: the wrangler config's vars and the secrets (README, "Configuration"). */
export const RELAY_VARS = [
  "MESSAGE_TTL_SECONDS",
  "QUEUE_QUOTA",
  "ALLOW_NEW_QUEUES",
  "HANDSHAKE_TIMEOUT_SECONDS",
  "MAX_PENDING_BLOCKS",
  "NEW_QUEUES_PER_MINUTE",
  "MAX_SUBSCRIPTIONS",
  "LIMIT_CONNECTIONS_PER_IP",
  "STATS",
  "QUEUE_PASSWORD",
  "RELAY_CA_CERT",
  "RELAY_ONLINE_CERT",
  "RELAY_ONLINE_KEY",
  "RELAY_DEBUG_METRICS",
  "ADMIN_TOKEN",
] as const;

export type RelayVar = (typeof RELAY_VARS)[number];

/**
 * Overrides of the relay's settings; the rest keep the wrangler config's defaults. Numbers and
 * booleans are turned into the strings the Worker reads. Units as in the README:
 * `MESSAGE_TTL_SECONDS` and `HANDSHAKE_TIMEOUT_SECONDS` in seconds, `QUEUE_QUOTA` in messages per
 * queue, `MAX_PENDING_BLOCKS` in blocks per connection, `NEW_QUEUES_PER_MINUTE` in queues per
 * connection per minute, `MAX_SUBSCRIPTIONS` in queues per connection.
 */
export type RelayVars = Partial<Record<RelayVar, string | number | boolean>>;

export interface StartLocalRelayOptions {
  /** Settings for this relay, e.g. `{ QUEUE_QUOTA: 4, QUEUE_PASSWORD: "secret" }`. */
  vars?: RelayVars;
  /**
   * A directory for the Durable Objects' storage (queues, messages, the relay's identity), kept
   * after stop(): start again with the same one to get the same relay back (same address). By
   * default everything is in memory and gone after stop().
   */
  persist?: string;
  /** The TCP port on 127.0.0.1; by default a free one the system picks. */
  port?: number;
  /**
   * Where the Worker's console output and workerd's own messages go, as text chunks. By default
   * they are discarded.
   */
  onOutput?: (text: string) => void;
}

export interface LocalRelay {
  /** The WebSocket URL clients connect to: `ws://127.0.0.1:PORT/`. */
  wsUrl: string;
  /** The relay's HTTP origin: `http://127.0.0.1:PORT` (`/health`, the operator page at `/`). */
  httpUrl: string;
  /** The relay's address as GET /health reports it: `smp://<keyHash>@127.0.0.1:PORT`. */
  address: string;
  /** The keyHash of the address: the SHA-256 of the relay's CA certificate (32 bytes). */
  keyHash: Uint8Array;
  /**
   * Stops the relay: closes its connections, ends workerd, frees the port and removes every
   * temporary file it made (a `persist` directory is kept). Safe to call twice.
   */
  stop(): Promise<void>;
}

/** dist/worker/ of the package: this module is dist/testing/localRelay.js. */
const PACKAGED_WORKER = new URL("../worker/", import.meta.url);

/**
 * Starts a relay in this process (Miniflare running workerd), ready when it resolves: GET /health
 * has answered with the relay's address. Takes 0.2 to 0.6 s on a 2-core machine (the first
 * request also creates the relay's identity). Several can run at once, each on its own port
 * with its own storage.
 *
 * ```ts
 * const relay = await startLocalRelay({ vars: { QUEUE_QUOTA: 4 } });
 * const client = await connect(relay.wsUrl, relay.keyHash, { WebSocket });
 * // …
 * client.close();
 * await relay.stop();
 * ```
 */
export async function startLocalRelay(options: StartLocalRelayOptions = {}): Promise<LocalRelay> {
  return startBundledRelay(readWorkerBundle(fileURLToPath(PACKAGED_WORKER)), options);
}

/** startLocalRelay with a given bundle (our own tests bundle the Worker from its sources). */
export async function startBundledRelay(bundle: WorkerBundle, options: StartLocalRelayOptions = {}): Promise<LocalRelay> {
  // Miniflare keeps workerd's files (in-memory storage included) in a directory of the system's
  // temp dir, removed without waiting after dispose(); made inside one of ours, stop() can wait.
  const scratch = mkdtempSync(join(tmpdir(), "smp-relay-"));
  // A process that exits without stop() (Ctrl-C: Miniflare's own exit hook then ends workerd and
  // removes its directory, and exits 130) still leaves no directory of ours.
  const removeScratch = (): void => rmSync(scratch, { recursive: true, force: true });
  process.once("exit", removeScratch);
  let mf: Miniflare;
  try {
    mf = withTmpdir(scratch, () => new Miniflare(miniflareOptions(bundle, options)));
  } catch (e) {
    process.off("exit", removeScratch);
    removeScratch();
    throw e;
  }
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      try {
        await mf.dispose();
      } finally {
        process.off("exit", removeScratch);
        await rm(scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      }
    })());
  try {
    const url = await mf.ready;
    const httpUrl = `http://127.0.0.1:${url.port}`;
    const address = await healthAddress(httpUrl);
    return { wsUrl: `ws://127.0.0.1:${url.port}/`, httpUrl, address, keyHash: parseAddress(address).keyHash, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs `f` with os.tmpdir() answering `dir` (Miniflare's constructor reads it, synchronously). */
function withTmpdir<T>(dir: string, f: () => T): T {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

function miniflareOptions(bundle: WorkerBundle, options: StartLocalRelayOptions): MiniflareOptions {
  const { config } = bundle;
  const onOutput = options.onOutput;
  return {
    host: "127.0.0.1",
    port: options.port ?? 0,
    modules: true,
    scriptPath: bundle.scriptPath,
    // Module names are paths relative to this (by default the working directory).
    modulesRoot: dirname(bundle.scriptPath),
    // libsodium.wasm next to worker.js, imported by it: a precompiled module, as wrangler's rules make it.
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    bindings: { ...config.vars, ...varStrings(options.vars ?? {}) },
    durableObjects: Object.fromEntries(config.durableObjects.map((d) => [d.binding, { className: d.className, useSQLite: d.sqlite }])),
    // In memory unless a directory is given.
    durableObjectsPersist: options.persist ?? false,
    // Nothing from the network (Request.cf would be fetched and cached on disk), no telemetry.
    cf: false,
    telemetry: { enabled: false },
    handleRuntimeStdio: (stdout, stderr) => {
      for (const s of [stdout, stderr]) s.on("data", (d: Buffer) => onOutput?.(d.toString()));
    },
  };
}

function varStrings(vars: RelayVars): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (!(RELAY_VARS as readonly string[]).includes(k)) throw new TypeError(`startLocalRelay: unknown var "${k}" (known: ${RELAY_VARS.join(", ")})`);
    if (v !== undefined) out[k] = String(v);
  }
  return out;
}

/** The address from GET /health; a relay refusing its configuration answers 500 with why. */
async function healthAddress(httpUrl: string): Promise<string> {
  const r = await fetch(`${httpUrl}/health`);
  const body = (await r.json()) as { status?: string; address?: string; error?: string };
  if (!r.ok || typeof body.address !== "string") {
    throw new Error(`startLocalRelay: the relay refused to start: ${body.error ?? `HTTP ${r.status}`}`);
  }
  return body.address;
}
