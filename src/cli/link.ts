// `smp-relay link`: a contact address with its short link from the command line (WIRE.md 6.13,
// 6.13a). `create` makes the queue with the given blobs and keeps its keys in a 0600 JSON file,
// `show` reads a link's data with LGET, `delete` removes the queue (DEL) or only its data (LDEL).
// The blobs are opaque bytes, as for the relay: encrypting them is the business of the clients.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import encodeQR from "qr";
import { connect, type SMPClient } from "../client/client.js";
import { SMPProtocolError } from "../client/errors.js";
import { createContactAddress, deleteLinkData, getLinkData, shortLinkFor, type ContactAddress } from "../client/links.js";
import { deleteQueue, type RecipientQueue } from "../client/queues.js";
import { parseShortLink, ShortLinkError, type ShortLink, type ShortLinkServer } from "../protocol/shortLink.js";
import type { WebSocketConstructor } from "../client/socket.js";
import { contactLinkId, LINK_KEY_SIZE } from "../crypto/linkIds.js";
import { randomBytes } from "../crypto/random.js";
import { formatAddress, parseAddress, type RelayAddress } from "../protocol/address.js";
import { base64url } from "../protocol/base64.js";
import { ParseError } from "../protocol/encoding.js";

export const DEFAULT_KEYS_FILE = "smp-address.json";

export const LINK_USAGE = `  smp-relay link create --relay RELAY --fixed-data FILE --user-data FILE [--keys FILE] [--force] [--basic-auth PASSWORD] [--url URL]
      Creates a contact address on the relay holding the two files' bytes as its link data (opaque,
      at most 65535 bytes each, about 16 KB in all), writes its keys to FILE (default
      ./${DEFAULT_KEYS_FILE}, mode 0600; never overwrites one without --force), and prints its short
      link and a QR code of it.
  smp-relay link show LINK [--relay RELAY] [--url URL]
      Reads a contact address's data (LGET) from the relay the link names and prints its sender id
      and the sizes of the two blobs.
  smp-relay link delete [--keys FILE] [--data-only] [--relay RELAY] [--url URL]
      Deletes the queue of the keys file (DEL), or with --data-only only its link data (LDEL).

  RELAY is the relay's address, smp://<keyHash>[:<password>]@<host>[:<port>], whose keyHash the
  relay must prove it holds; its WebSocket URL is wss://<host>[:<port>]/ (ws:// for localhost and
  127.x.x.x). --url gives another WebSocket URL (ws:// or wss://); a ws(s):// RELAY does the same.
`;

/** What runLink needs from its surroundings; tests and tools pass their own. */
export interface LinkIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** The WebSocket class; default the global one, else the `ws` package if installed (Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Opens the connection; default `connect` of the client library. */
  connect?: (url: string, keyHash: Uint8Array, options: { WebSocket: WebSocketConstructor }) => Promise<SMPClient>;
}

class LinkCliError extends Error {
  override readonly name = "LinkCliError";
}

// ---- the relay: address, password, WebSocket URL ----

/** Where to connect: the WebSocket URL and the keyHash the relay must prove. */
export interface RelayTarget {
  url: string;
  keyHash: Uint8Array;
}

/** What `--relay` gives: an smp:// address (and the password written in it), or a WebSocket URL. */
export type RelayArg = { address: RelayAddress; password?: string } | { url: string };

/** `--relay`: an smp:// address (optionally with `:password` after the keyHash) or a ws(s):// URL. LinkCliError otherwise. */
export function parseRelayArg(s: string): RelayArg {
  if (/^wss?:\/\//.test(s)) return { url: s };
  const m = /^smp:\/\/([A-Za-z0-9_-]+):([^@/\s]+)@(.*)$/.exec(s);
  try {
    if (m) return { address: parseAddress(`smp://${m[1]!}@${m[3]!}`), password: m[2]! };
    return { address: parseAddress(s) };
  } catch (e) {
    if (e instanceof ParseError) throw new LinkCliError(`--relay ${s}: ${e.message} (expected smp://<keyHash>@<host>[:port] or a ws(s):// URL)`);
    throw e;
  }
}

/** The relay's WebSocket URL from its host (`host[:port]`): wss://, or ws:// on this machine. */
export function webSocketUrlFor(host: string): string {
  const name = host.replace(/:[0-9]+$/, "");
  const local = name === "localhost" || /^127(\.[0-9]{1,3}){3}$/.test(name) || name === "[::1]";
  return `${local ? "ws" : "wss"}://${host}/`;
}

// ---- the keys file ----

/** The keys file: everything needed to manage the queue later. Bytes are unpadded base64url. */
export interface KeysFile {
  relay: string;
  url: string;
  shortLink: string;
  mode: "C";
  rcvId: string;
  sndId: string;
  linkId: string;
  linkKey: string;
  rcvAuthKey: { publicKey: string; privateKey: string };
  rcvDhKey: { publicKey: string; privateKey: string };
  srvDhKey: string;
  dhSecret: string;
}

const b64 = base64url.encode;
const pair = (k: { publicKey: Uint8Array; privateKey: Uint8Array }): { publicKey: string; privateKey: string } => ({
  publicKey: b64(k.publicKey),
  privateKey: b64(k.privateKey),
});

export function keysFileOf(a: ContactAddress, relay: RelayAddress, url: string, shortLink: string): KeysFile {
  return {
    relay: formatAddress(relay),
    url,
    shortLink,
    mode: "C",
    rcvId: b64(a.rcvId),
    sndId: b64(a.sndId),
    linkId: b64(a.linkId),
    linkKey: b64(a.linkKey),
    rcvAuthKey: pair(a.rcvAuthKey),
    rcvDhKey: pair(a.rcvDhKey),
    srvDhKey: b64(a.srvDhKey),
    dhSecret: b64(a.dhSecret),
  };
}

/** Reads a keys file back: the relay and the queue. LinkCliError for anything missing or malformed. */
export function readKeysFile(path: string): { relay: RelayAddress; url: string; queue: RecipientQueue } {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new LinkCliError(`${path}: ${(e as Error).message}`);
  }
  const bad = (what: string): never => {
    throw new LinkCliError(`${path}: ${what} (not a keys file of smp-relay link create)`);
  };
  const o = typeof j === "object" && j !== null ? (j as Record<string, unknown>) : bad("not a JSON object");
  const bytes = (v: unknown, name: string): Uint8Array => {
    if (typeof v !== "string" || !/^[A-Za-z0-9_-]+$/.test(v)) return bad(`${name} is not base64url`);
    return base64url.decode(v);
  };
  const keyPair = (v: unknown, name: string): { publicKey: Uint8Array; privateKey: Uint8Array } => {
    const p = typeof v === "object" && v !== null ? (v as Record<string, unknown>) : bad(`no ${name}`);
    return { publicKey: bytes(p.publicKey, `${name}.publicKey`), privateKey: bytes(p.privateKey, `${name}.privateKey`) };
  };
  if (typeof o.relay !== "string" || typeof o.url !== "string") return bad("no relay or url");
  let relay: RelayAddress;
  try {
    relay = parseAddress(o.relay);
  } catch {
    return bad(`relay ${o.relay} is not an smp:// address`);
  }
  const queue: RecipientQueue = {
    rcvId: bytes(o.rcvId, "rcvId"),
    sndId: bytes(o.sndId, "sndId"),
    mode: "C",
    rcvAuthKey: keyPair(o.rcvAuthKey, "rcvAuthKey"),
    rcvDhKey: keyPair(o.rcvDhKey, "rcvDhKey"),
    srvDhKey: bytes(o.srvDhKey, "srvDhKey"),
    dhSecret: bytes(o.dhSecret, "dhSecret"),
    linkId: bytes(o.linkId, "linkId"),
  };
  return { relay, url: o.url, queue };
}

// ---- output ----

/** A QR code of `text` for a terminal: half-block characters, light modules drawn, so dark backgrounds scan. */
export function qrText(text: string): string {
  return encodeQR(text, "ascii", { ecc: "medium" });
}

// ---- the commands ----

interface Options {
  relay?: string;
  url?: string;
  "fixed-data"?: string;
  "user-data"?: string;
  keys?: string;
  force?: boolean;
  "basic-auth"?: string;
  "data-only"?: boolean;
}

const ALLOWED: Record<string, readonly (keyof Options)[]> = {
  create: ["relay", "url", "fixed-data", "user-data", "keys", "force", "basic-auth"],
  show: ["relay", "url"],
  delete: ["keys", "data-only", "relay", "url"],
};

/** Runs `smp-relay link …` (argv after `link`); returns the exit code (0 ok, 1 failure, 2 usage). */
export async function runLink(argv: string[], io: LinkIo = defaultIo): Promise<number> {
  const usage = (msg: string): number => {
    io.err(`smp-relay link: ${msg}\n\nUsage:\n${LINK_USAGE}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        relay: { type: "string" },
        url: { type: "string" },
        "fixed-data": { type: "string" },
        "user-data": { type: "string" },
        keys: { type: "string" },
        force: { type: "boolean" },
        "basic-auth": { type: "string" },
        "data-only": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(`Usage:\n${LINK_USAGE}`);
    return 0;
  }
  const [sub, ...rest] = positionals;
  if (sub === undefined) return usage("missing subcommand (create, show or delete)");
  const allowed = ALLOWED[sub];
  if (allowed === undefined) return usage(`unknown subcommand "${sub}"`);
  const { help: _help, ...o }: Options & { help?: boolean } = values;
  const wrong = (Object.keys(o) as (keyof Options)[]).find((k) => o[k] !== undefined && !allowed.includes(k));
  if (wrong !== undefined) return usage(`${sub} takes no --${wrong}`);
  if (sub === "show" ? rest.length !== 1 : rest.length > 0) {
    return usage(sub === "show" ? "show takes one short link" : `unexpected argument "${rest[0]!}"`);
  }
  if (o.url !== undefined && !/^wss?:\/\/./.test(o.url)) return usage(`--url ${o.url}: expected a ws:// or wss:// URL`);
  if (sub === "create" && (o.relay === undefined || o["fixed-data"] === undefined || o["user-data"] === undefined)) {
    return usage("create needs --relay, --fixed-data and --user-data");
  }
  let relay: RelayArg | null;
  let link: ShortLink | null = null;
  try {
    relay = o.relay === undefined ? null : parseRelayArg(o.relay);
    if (sub === "show") link = parseShortLink(rest[0]!);
  } catch (e) {
    if (e instanceof LinkCliError) return usage(e.message);
    if (e instanceof ShortLinkError) return usage(`${rest[0]!} is not a short link: ${e.message}`);
    throw e;
  }
  try {
    if (sub === "create") {
      if (relay === null || !("address" in relay)) {
        return usage("create needs the relay's smp:// address as --relay (its keyHash is how the relay is checked); a WebSocket URL goes in --url");
      }
      return await create(relay, o, io);
    }
    if (link !== null) return await show(link, relay, o, io);
    return await remove(relay, o, io);
  } catch (e) {
    if (e instanceof LinkCliError) {
      io.err(`smp-relay link: ${e.message}\n`);
      return 1;
    }
    if (e instanceof SMPProtocolError) {
      io.err(`smp-relay link: the relay answered ${e.message}\n`);
      return 1;
    }
    if (e instanceof Error) {
      io.err(`smp-relay link: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

const defaultIo: LinkIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

async function webSocketClass(io: LinkIo): Promise<WebSocketConstructor> {
  if (io.WebSocket) return io.WebSocket;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  try {
    return (await import("ws")).default as unknown as WebSocketConstructor;
  } catch {
    throw new LinkCliError("no WebSocket here: use Node 22 or later, or install the ws package (npm install ws)");
  }
}

async function open(target: RelayTarget, io: LinkIo): Promise<SMPClient> {
  const WebSocket = await webSocketClass(io);
  return (io.connect ?? connect)(target.url, target.keyHash, { WebSocket });
}

/** Runs `f` on a connection to `target`, closing it whatever happens. */
async function withClient<T>(target: RelayTarget, io: LinkIo, f: (c: SMPClient) => Promise<T>): Promise<T> {
  const client = await open(target, io);
  try {
    return await f(client);
  } finally {
    client.close();
  }
}

function readBlob(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new LinkCliError(`${what} ${path}: ${(e as Error).message}`);
  }
}

async function create(relayArg: { address: RelayAddress; password?: string }, o: Options, io: LinkIo): Promise<number> {
  const { address } = relayArg;
  const url = o.url ?? webSocketUrlFor(address.host);
  const keysPath = o.keys ?? DEFAULT_KEYS_FILE;
  // Before the queue exists: a refusal later would leave a queue nobody holds the keys of.
  if (existsSync(keysPath) && !o.force) throw new LinkCliError(`${keysPath} already exists: not overwriting its keys (--force to replace it, or --keys FILE)`);
  const fixedData = readBlob(o["fixed-data"]!, "--fixed-data");
  const userData = readBlob(o["user-data"]!, "--user-data");
  const basicAuth = o["basic-auth"] ?? relayArg.password;
  // The link first: a host it cannot name fails here, before there is a queue.
  const linkKey = randomBytes(LINK_KEY_SIZE);
  const link = shortLinkFor(address, { mode: "C", linkKey });
  await withClient({ url, keyHash: address.keyHash }, io, async (client) => {
    const created = await createContactAddress(client, { fixedData, userData, subscribe: false, basicAuth, linkKey });
    try {
      writeKeys(keysPath, keysFileOf(created, address, url, link), o.force === true);
    } catch (e) {
      await deleteQueue(client, created).catch(() => {});
      throw new LinkCliError(`${keysPath}: ${(e as Error).message} (the queue was deleted again)`);
    }
    io.out(
      [
        `Created a contact address on ${formatAddress(address)}.`,
        "",
        `  keys:        ${keysPath}   (mode 0600: the queue's private keys and the link key)`,
        `  link data:   ${fixedData.length} + ${userData.length} bytes`,
        `  short link:  ${link}`,
        "",
        qrText(link),
        "",
      ].join("\n"),
    );
  });
  return 0;
}

function writeKeys(path: string, keys: KeysFile, force: boolean): void {
  // "wx" (O_EXCL) never replaces a file that appeared since the check.
  writeFileSync(path, JSON.stringify(keys, null, 2) + "\n", { mode: 0o600, flag: force ? "w" : "wx" });
  chmodSync(path, 0o600); // a replaced file keeps its old mode otherwise
}

/** The relay to use for a link: the one it names, unless --relay or --url say otherwise. */
function linkTarget(server: ShortLinkServer, relayArg: RelayArg | null, o: Options): RelayTarget {
  const host = server.port === "" ? server.hosts[0]! : `${server.hosts[0]!}:${server.port}`;
  let keyHash = server.keyHash;
  let url = webSocketUrlFor(host);
  if (relayArg !== null && "address" in relayArg) {
    keyHash = relayArg.address.keyHash;
    url = webSocketUrlFor(relayArg.address.host);
  } else if (relayArg !== null) {
    url = relayArg.url;
  }
  if (keyHash.length !== 32) throw new LinkCliError("the link names no relay keyHash (c=): give the relay's smp:// address with --relay");
  return { url: o.url ?? url, keyHash };
}

async function show(link: ShortLink, relayArg: RelayArg | null, o: Options, io: LinkIo): Promise<number> {
  if (link.mode === "invitation") {
    throw new LinkCliError("this is a one-time invitation: its data is read with LKEY, which uses the invitation up; show reads contact addresses");
  }
  const target = linkTarget(link.server, relayArg, o);
  const data = await withClient(target, io, async (client) => {
    try {
      return await getLinkData(client, contactLinkId(link.linkKey));
    } catch (e) {
      if (e instanceof SMPProtocolError && e.code === "AUTH") {
        throw new LinkCliError(`no contact address with this link on ${target.url} (ERR AUTH)`);
      }
      throw e;
    }
  });
  io.out(
    [
      `sender id:   ${base64url.encode(data.senderId)}`,
      `fixed data:  ${data.fixedData.length} bytes`,
      `user data:   ${data.userData.length} bytes`,
      "",
    ].join("\n"),
  );
  return 0;
}

async function remove(relayArg: RelayArg | null, o: Options, io: LinkIo): Promise<number> {
  const keysPath = o.keys ?? DEFAULT_KEYS_FILE;
  if (!existsSync(keysPath)) throw new LinkCliError(`${keysPath} not found (--keys FILE: the file link create wrote)`);
  const keys = readKeysFile(keysPath);
  const keyHash = relayArg !== null && "address" in relayArg ? relayArg.address.keyHash : keys.relay.keyHash;
  const url = o.url ?? (relayArg === null ? keys.url : "url" in relayArg ? relayArg.url : webSocketUrlFor(relayArg.address.host));
  await withClient({ url, keyHash }, io, async (client) => {
    try {
      if (o["data-only"]) await deleteLinkData(client, keys.queue);
      else await deleteQueue(client, keys.queue);
    } catch (e) {
      if (e instanceof SMPProtocolError && e.code === "AUTH") {
        throw new LinkCliError(`the relay refused (ERR AUTH): the queue is gone already, or ${keysPath} does not hold its keys`);
      }
      throw e;
    }
  });
  io.out(
    o["data-only"]
      ? `Deleted the link data (LDEL): the short link no longer resolves; the queue stays (${keysPath}).\n`
      : `Deleted the queue (DEL): its short link no longer works. ${keysPath} is of no further use.\n`,
  );
  return 0;
}
