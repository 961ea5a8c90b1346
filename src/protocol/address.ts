// Relay addresses: smp://<keyHash, base64url>@<host>[:port], and the `challenge` query parameter.
import { base64url } from "./base64.js";
import { ParseError } from "./encoding.js";

export interface RelayAddress {
  keyHash: Uint8Array;
  host: string;
}

export function formatAddress(a: RelayAddress): string {
  return `smp://${base64url.encode(a.keyHash)}@${a.host}`;
}

export function parseAddress(s: string): RelayAddress {
  const m = /^smp:\/\/([A-Za-z0-9_-]+)@([^/?#\s]+)\/?$/.exec(s.trim());
  if (!m) throw new ParseError("not an smp:// address");
  const keyHash = base64url.decode(m[1] as string);
  if (keyHash.length !== 32) throw new ParseError("keyHash must be 32 bytes");
  return { keyHash, host: m[2] as string };
}

/**
 * Finds the identity challenge in a request target the way the upstream relay does: the first
 * `challenge=` substring, its value up to the next `&`, unpadded base64url of exactly 32 bytes.
 * Anything else counts as no challenge.
 */
export function parseChallenge(target: string): Uint8Array | null {
  const i = target.indexOf("challenge=");
  if (i < 0) return null;
  const rest = target.slice(i + "challenge=".length);
  const amp = rest.indexOf("&");
  const value = amp < 0 ? rest : rest.slice(0, amp);
  try {
    const c = base64url.decode(value);
    return c.length === 32 ? c : null;
  } catch {
    return null;
  }
}
