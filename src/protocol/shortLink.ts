// Short links, the form in which SimpleX clients share contact addresses and one-time invitations
// whose data the relay holds (WIRE.md 6.13, 6.13a). Our own encoder and parser of the string form
// that upstream's agent produces (simplexmq Simplex.Messaging.Agent.Protocol, AConnShortLink), as
// its tests pin it, e.g. for a contact address on a relay with a second (onion) host:
//
//   https://smp.simplex.im/a#<linkKey>?h=<onion host>&p=5223&c=<keyHash>
//   simplex:/a#<linkKey>?h=smp.simplex.im%2C<onion host>&p=5223&c=<keyHash>
//   https://smp.simplex.im/i#<linkId>/<linkKey>            (invitation, preset server: no h, p, c)
//
// Shape: scheme, then one path character for the link type (a contact, g group, c channel, r relay,
// i invitation), then the fragment: unpadded base64url of the 32-byte link key, preceded for an
// invitation by the 24-byte link id and "/". The query names the relay: `h` the hosts (with the
// https scheme the first host is the URL's own host and `h` lists the others; with `simplex:` `h`
// lists all), `p` the port, `c` the relay's keyHash (32-byte SHA-256 of its CA certificate), each
// left out when empty; values are percent-encoded (a comma between hosts is %2C).
// Pure: no Node imports.
import { base64url } from "./base64.js";
import type { RelayAddress } from "./address.js";

/** `https` puts the relay's first host in the URL; `simplex` is the app-only scheme. */
export type ShortLinkScheme = "https" | "simplex";

/** What a contact-mode link stands for; only `contact` (path `/a`) is a plain contact address. */
export type ContactLinkType = "contact" | "group" | "channel" | "relay";

/** The relay named by a link. */
export interface ShortLinkServer {
  /** Host names, at least one; the first is the one put in an https link's URL. */
  hosts: string[];
  /** Decimal port, or "" for the relay's default. */
  port: string;
  /**
   * SHA-256 of the relay's CA certificate (32 bytes for a real relay; any length parses, as
   * upstream's tests use a 4-byte one), or empty for a preset server.
   */
  keyHash: Uint8Array;
}

/**
 * A parsed short link. `linkKey` (32 bytes) is the secret that decrypts the link data. An
 * invitation carries its `linkId` (24 bytes, chosen by the relay at NEW); a contact address does
 * not: its link id is derived from the key (WIRE.md 6.13).
 */
export type ShortLink =
  | { mode: "invitation"; scheme: ShortLinkScheme; server: ShortLinkServer; linkId: Uint8Array; linkKey: Uint8Array }
  | { mode: "contact"; scheme: ShortLinkScheme; type: ContactLinkType; server: ShortLinkServer; linkKey: Uint8Array };

/** A string that is not a well-formed short link; `message` says which part is wrong. */
export class ShortLinkError extends Error {
  override readonly name = "ShortLinkError";
}

/** Link key length in bytes (a SHA3-256 digest upstream). */
export const LINK_KEY_LENGTH = 32;
/** Invitation link id length in bytes (WIRE.md 6.13a: 24 random bytes). */
export const LINK_ID_LENGTH = 24;

const TYPE_CHARS: Record<ContactLinkType, string> = { contact: "a", group: "g", channel: "c", relay: "r" };
const CHAR_TYPES = new Map<string, ContactLinkType>(Object.entries(TYPE_CHARS).map(([t, c]) => [c, t as ContactLinkType]));
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/;
const PORT = /^[0-9]{1,5}$/;

/** The string form of a link, exactly as upstream's agent writes it. Throws ShortLinkError for an invalid link value. */
export function formatShortLink(link: ShortLink): string {
  checkLink(link);
  const { hosts, port, keyHash } = link.server;
  const typeChar = link.mode === "invitation" ? "i" : TYPE_CHARS[link.type];
  const key = base64url.encode(link.linkKey);
  const fragment = link.mode === "invitation" ? `${base64url.encode(link.linkId)}/${key}` : key;
  const queryHosts = link.scheme === "https" ? hosts.slice(1) : hosts;
  const query: string[] = [];
  if (queryHosts.length > 0) query.push(`h=${encodeURIComponent(queryHosts.join(","))}`);
  if (port !== "") query.push(`p=${port}`);
  if (keyHash.length > 0) query.push(`c=${base64url.encode(keyHash)}`);
  const prefix = link.scheme === "https" ? `https://${hosts[0]!}` : "simplex:";
  return `${prefix}/${typeChar}#${fragment}${query.length > 0 ? `?${query.join("&")}` : ""}`;
}

/** Parses either scheme. Unknown query parameters are ignored. Throws ShortLinkError. */
export function parseShortLink(s: string): ShortLink {
  let scheme: ShortLinkScheme;
  let urlHost: string | null = null;
  let rest: string;
  if (s.startsWith("https://")) {
    scheme = "https";
    const slash = s.indexOf("/", 8);
    if (slash < 0) throw new ShortLinkError("no path");
    urlHost = s.slice(8, slash);
    rest = s.slice(slash);
  } else if (s.startsWith("simplex:")) {
    scheme = "simplex";
    rest = s.slice(8);
  } else {
    throw new ShortLinkError("scheme is neither https:// nor simplex:");
  }
  if (rest.length < 3 || rest[0] !== "/" || rest[2] !== "#") throw new ShortLinkError("path is not /<type>#");
  const typeChar = rest[1]!;
  const afterHash = rest.slice(3);
  const q = afterHash.indexOf("?");
  const fragment = q < 0 ? afterHash : afterHash.slice(0, q);
  const params = parseQuery(q < 0 ? "" : afterHash.slice(q + 1));

  const queryHosts = params.get("h");
  const listed = queryHosts === undefined ? [] : queryHosts.split(",");
  const hosts = urlHost === null ? listed : [urlHost, ...listed];
  const port = params.get("p") ?? "";
  const keyHash = params.has("c") ? decodeB64(params.get("c")!, "keyHash") : new Uint8Array(0);
  const server: ShortLinkServer = { hosts, port, keyHash };

  let link: ShortLink;
  if (typeChar === "i") {
    const parts = fragment.split("/");
    if (parts.length !== 2) throw new ShortLinkError("an invitation's fragment is <linkId>/<linkKey>");
    link = { mode: "invitation", scheme, server, linkId: decodeB64(parts[0]!, "linkId"), linkKey: decodeB64(parts[1]!, "linkKey") };
  } else {
    const type = CHAR_TYPES.get(typeChar);
    if (type === undefined) throw new ShortLinkError(`unknown link type /${typeChar}`);
    link = { mode: "contact", scheme, type, server, linkKey: decodeB64(fragment, "linkKey") };
  }
  checkLink(link);
  return link;
}

/**
 * The server part of a link to this relay, from its `smp://` address (host may carry `:port`).
 * Shape: `{ hosts: [host], port: "" | "<port>", keyHash }`.
 */
export function relayLinkServer(address: RelayAddress): ShortLinkServer {
  const m = /^(.*?)(?::([0-9]{1,5}))?$/.exec(address.host);
  return { hosts: [m?.[1] ?? address.host], port: m?.[2] ?? "", keyHash: address.keyHash };
}

function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (query === "") return out;
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    if (eq < 0) throw new ShortLinkError(`query parameter without value: ${pair}`);
    const k = pair.slice(0, eq);
    let v: string;
    try {
      v = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw new ShortLinkError(`bad percent-encoding in ${k}`);
    }
    if (out.has(k)) throw new ShortLinkError(`query parameter ${k} repeated`);
    out.set(k, v);
  }
  return out;
}

function decodeB64(s: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new ShortLinkError(`${what} is not unpadded base64url`);
  try {
    return base64url.decode(s);
  } catch {
    throw new ShortLinkError(`${what} is not base64url`);
  }
}

function checkLink(link: ShortLink): void {
  const { hosts, port } = link.server;
  if (hosts.length === 0) throw new ShortLinkError("no relay host");
  for (const h of hosts) if (!HOST.test(h)) throw new ShortLinkError(`bad host: ${JSON.stringify(h)}`);
  if (port !== "" && !PORT.test(port)) throw new ShortLinkError(`bad port: ${JSON.stringify(port)}`);
  if (link.linkKey.length !== LINK_KEY_LENGTH) throw new ShortLinkError(`linkKey must be ${LINK_KEY_LENGTH} bytes`);
  if (link.mode === "invitation" && link.linkId.length !== LINK_ID_LENGTH) throw new ShortLinkError(`linkId must be ${LINK_ID_LENGTH} bytes`);
}
