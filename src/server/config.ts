// Relay settings from the Worker's environment, with defaults and validation. A bad value is an
// error that names the variable, never a silent fallback.
import { parseShortLink, ShortLinkError } from "../protocol/shortLink.js";

export interface RelayConfig {
  /** Seconds a pending message is kept (default 21 days). */
  messageTtlSeconds: number;
  /** Pending messages per queue before SEND gets ERR QUOTA (default 128). */
  queueQuota: number;
  /** Whether NEW may create queues at all. */
  allowNewQueues: boolean;
  /** When set, NEW must carry this basic-auth password. */
  queuePassword: string | null;
  /** Seconds a connection may take to send its hello before it is closed. */
  handshakeTimeoutSeconds: number;
  /** Blocks a connection may have waiting to be handled; past it commands get ERR QUOTA, past twice as many the connection is closed (a flood). */
  maxPendingBlocks: number;
  /** NEW commands one connection may make per minute (a burst of this many, then 1 per 60/n s). */
  newQueuesPerMinute: number;
  /** Queues one connection may be subscribed to at once. */
  maxSubscriptions: number;
  /** A contact address the operator publishes on the page (a short link, `npx smp-relay link create`), or null. */
  contactLink: string | null;
  /** Whether new connections are limited per client address (connectionLimit.ts). */
  limitConnectionsPerIp: boolean;
  /**
   * Statistics (stats.ts): "public" counts and shows messages per day on the operator page;
   * "private" counts for the admin API only; "off" counts nothing.
   */
  stats: StatsMode;
}

export type StatsMode = "public" | "private" | "off";
const STATS_MODES: readonly string[] = ["public", "private", "off"] satisfies StatsMode[];

export const DEFAULT_CONFIG: RelayConfig = {
  messageTtlSeconds: 21 * 24 * 3600,
  queueQuota: 128,
  allowNewQueues: true,
  queuePassword: null,
  handshakeTimeoutSeconds: 60,
  maxPendingBlocks: 64,
  newQueuesPerMinute: 60,
  maxSubscriptions: 5000,
  contactLink: null,
  limitConnectionsPerIp: true,
  stats: "public",
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export interface ConfigEnv {
  MESSAGE_TTL_SECONDS?: string;
  QUEUE_QUOTA?: string;
  ALLOW_NEW_QUEUES?: string;
  QUEUE_PASSWORD?: string;
  HANDSHAKE_TIMEOUT_SECONDS?: string;
  MAX_PENDING_BLOCKS?: string;
  NEW_QUEUES_PER_MINUTE?: string;
  MAX_SUBSCRIPTIONS?: string;
  CONTACT_LINK?: string;
  LIMIT_CONNECTIONS_PER_IP?: string;
  STATS?: string;
}

/** CONTACT_LINK: empty, or a contact address's short link (WIRE.md 6.13a; `/a#…` or `/c#…`). */
function contactLinkVar(env: ConfigEnv): string | null {
  const raw = env.CONTACT_LINK?.trim();
  if (raw === undefined || raw === "") return null;
  try {
    if (parseShortLink(raw).mode !== "contact") throw new ConfigError("CONTACT_LINK must be a contact address's link, not a one-time invitation");
  } catch (e) {
    if (e instanceof ShortLinkError) throw new ConfigError(`CONTACT_LINK is not a short link: ${e.message}`);
    throw e;
  }
  return raw;
}

function intVar(env: ConfigEnv, name: keyof ConfigEnv, min: number, max: number, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return dflt;
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

export function readConfig(env: ConfigEnv): RelayConfig {
  const allow = env.ALLOW_NEW_QUEUES;
  if (allow !== undefined && allow !== "" && allow !== "true" && allow !== "false") {
    throw new ConfigError(`ALLOW_NEW_QUEUES must be "true" or "false", got "${allow}"`);
  }
  const limitIp = env.LIMIT_CONNECTIONS_PER_IP;
  if (limitIp !== undefined && limitIp !== "" && limitIp !== "true" && limitIp !== "false") {
    throw new ConfigError(`LIMIT_CONNECTIONS_PER_IP must be "true" or "false", got "${limitIp}"`);
  }
  const stats = env.STATS === undefined || env.STATS === "" ? DEFAULT_CONFIG.stats : env.STATS;
  if (!STATS_MODES.includes(stats)) throw new ConfigError(`STATS must be "public", "private" or "off", got "${stats}"`);
  const password = env.QUEUE_PASSWORD;
  // Same alphabet as SMP server addresses: printable ASCII without space, @, : and /.
  if (password !== undefined && password !== "" && !/^[!-~]+$/.test(password.replace(/[@:/]/g, " "))) {
    throw new ConfigError("QUEUE_PASSWORD must be printable ASCII without spaces, '@', ':' or '/'");
  }
  return {
    messageTtlSeconds: intVar(env, "MESSAGE_TTL_SECONDS", 60, 365 * 24 * 3600, DEFAULT_CONFIG.messageTtlSeconds),
    queueQuota: intVar(env, "QUEUE_QUOTA", 1, 10_000, DEFAULT_CONFIG.queueQuota),
    allowNewQueues: allow !== "false",
    queuePassword: password ? password : null,
    handshakeTimeoutSeconds: intVar(env, "HANDSHAKE_TIMEOUT_SECONDS", 1, 3600, DEFAULT_CONFIG.handshakeTimeoutSeconds),
    maxPendingBlocks: intVar(env, "MAX_PENDING_BLOCKS", 1, 1024, DEFAULT_CONFIG.maxPendingBlocks),
    newQueuesPerMinute: intVar(env, "NEW_QUEUES_PER_MINUTE", 1, 100_000, DEFAULT_CONFIG.newQueuesPerMinute),
    maxSubscriptions: intVar(env, "MAX_SUBSCRIPTIONS", 1, 100_000, DEFAULT_CONFIG.maxSubscriptions),
    contactLink: contactLinkVar(env),
    limitConnectionsPerIp: limitIp !== "false",
    stats: stats as StatsMode,
  };
}
