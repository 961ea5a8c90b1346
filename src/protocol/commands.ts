// Client commands (what the relay receives) and server responses (what it sends), v19 encodings.
// Decoders throw CommandError (UNKNOWN / SYNTAX) for commands and ParseError for responses.
import { asciiBytes, bytesToAscii, CHAR_SPACE, Decoder, Encoder, ParseError } from "./encoding.js";
import { CommandError, type ErrorCode } from "./errors.js";
import { decodeLinkParams, encodeLinkParams, isLinkCommandWithParams, type LinkCommand } from "./linkCommands.js";

export { LINK_COMMAND_TAGS, type LinkCommand, type LinkCommandTag } from "./linkCommands.js";

export type QueueMode = "M" | "C";

/** NEW's optional queue data: messaging or contact queue, with optional short-link data. */
export interface QueueReqData {
  mode: QueueMode;
  link: { linkId: Uint8Array | null; sndId: Uint8Array; fixedData: Uint8Array; userData: Uint8Array } | null;
}

export interface NewCommand {
  tag: "NEW";
  rcvAuthKey: Uint8Array;
  rcvDhKey: Uint8Array;
  basicAuth: Uint8Array | null;
  /** "S": create and subscribe this connection; "C": only create. */
  subscribe: boolean;
  queueReqData: QueueReqData | null;
  ntfCreds: { notifierKey: Uint8Array; rcvNtfDhKey: Uint8Array } | null;
}

export interface ProxyCommand {
  tag: "PRXY";
  hosts: Uint8Array[];
  port: Uint8Array;
  keyHash: Uint8Array;
  basicAuth: Uint8Array | null;
}

export interface ForwardCommand {
  tag: "PFWD";
  version: number;
  commandKey: Uint8Array;
  encrypted: Uint8Array;
}

/**
 * Commands that exist at v19 but that this relay answers `ERR CMD PROHIBITED` (notifiers,
 * services); they are in UNPARSED_TAGS. (The link commands, WIRE.md 6.13a, are served.)
 */
export const UNSERVED_TAGS = ["NKEY", "NDEL", "NSUB", "NSUBS", "SUBS", "RFWD"] as const;
export type UnservedTag = (typeof UNSERVED_TAGS)[number];

/** Unserved commands whose parameters are not parsed: they decode to their tag alone. */
export const UNPARSED_TAGS = ["NKEY", "NDEL", "NSUB", "NSUBS", "SUBS", "RFWD"] as const;
export type UnparsedTag = (typeof UNPARSED_TAGS)[number];

export type ClientCommand =
  | NewCommand
  | { tag: "SUB" }
  | { tag: "KEY"; senderKey: Uint8Array }
  | { tag: "SKEY"; senderKey: Uint8Array }
  | { tag: "SEND"; notify: boolean; body: Uint8Array }
  | { tag: "ACK"; msgId: Uint8Array }
  | { tag: "GET" }
  | { tag: "OFF" }
  | { tag: "DEL" }
  | { tag: "QUE" }
  | { tag: "PING" }
  | { tag: "LGET" }
  | ProxyCommand
  | ForwardCommand
  | LinkCommand
  | { tag: UnparsedTag };

export type CommandTag = ClientCommand["tag"];

const NO_PARAMS = new Set(["SUB", "GET", "OFF", "DEL", "QUE", "PING", "LGET", "LDEL"]);
const UNPARSED = new Set<string>(UNPARSED_TAGS);
/** Tags that must have parameters: without any, they are `CMD SYNTAX`. */
const WITH_PARAMS = new Set(["NEW", "KEY", "SKEY", "SEND", "ACK", "PRXY", "PFWD", "LSET", "LKEY", "RKEY"]);

/** Splits "TAG" or "TAG params…" into the tag and a decoder over the parameters. */
function splitTag(cmd: Uint8Array): { tag: string; params: Decoder | null } {
  const sp = cmd.indexOf(CHAR_SPACE);
  const tagBytes = sp < 0 ? cmd : cmd.subarray(0, sp);
  const tag = bytesToAscii(tagBytes);
  return { tag, params: sp < 0 ? null : new Decoder(cmd.subarray(sp + 1)) };
}

function decodeQueueReqData(d: Decoder): QueueReqData {
  const m = d.byte();
  if (m === 0x4d /* M */) {
    const link = d.maybe((x) => ({ linkId: null, sndId: x.shortBytes(), fixedData: x.large(), userData: x.large() }));
    return { mode: "M", link };
  }
  if (m === 0x43 /* C */) {
    const link = d.maybe((x) => ({ linkId: x.shortBytes(), sndId: x.shortBytes(), fixedData: x.large(), userData: x.large() }));
    return { mode: "C", link };
  }
  throw new ParseError("bad queue mode");
}

function decodeParams(tag: string, d: Decoder): ClientCommand {
  switch (tag) {
    case "NEW": {
      const rcvAuthKey = d.shortBytes();
      const rcvDhKey = d.shortBytes();
      const basicAuth = d.maybe((x) => x.shortBytes());
      const sm = d.byte();
      if (sm !== 0x53 /* S */ && sm !== 0x43 /* C */) throw new ParseError("bad subscribe mode");
      const queueReqData = d.maybe(decodeQueueReqData);
      const ntfCreds = d.maybe((x) => ({ notifierKey: x.shortBytes(), rcvNtfDhKey: x.shortBytes() }));
      return { tag, rcvAuthKey, rcvDhKey, basicAuth, subscribe: sm === 0x53, queueReqData, ntfCreds };
    }
    case "KEY":
    case "SKEY":
      return { tag, senderKey: d.shortBytes() };
    case "SEND": {
      // One flag byte; further non-space bytes are reserved flags and are skipped, as upstream does.
      const f = d.byte();
      if (f !== 0x54 && f !== 0x46) throw new ParseError("bad SEND flags");
      while (d.peek() !== undefined && d.peek() !== CHAR_SPACE) d.byte();
      d.space();
      return { tag, notify: f === 0x54, body: d.tail() };
    }
    case "ACK":
      return { tag, msgId: d.shortBytes() };
    case "PRXY": {
      const hosts = d.list((x) => x.shortBytes(), true);
      const port = d.shortBytes();
      const keyHash = d.shortBytes();
      const basicAuth = d.maybe((x) => x.shortBytes());
      return { tag, hosts, port, keyHash, basicAuth };
    }
    case "PFWD":
      return { tag, version: d.word16(), commandKey: d.shortBytes(), encrypted: d.tail() };
    default:
      if (isLinkCommandWithParams(tag)) return decodeLinkParams(tag, d);
      throw new CommandError("UNKNOWN");
  }
}

/**
 * Parses a command. Unknown tags give `CMD UNKNOWN`; a known tag with malformed, missing or extra
 * parameters gives `CMD SYNTAX`. The link commands parse in full (WIRE.md 6.13a); the other
 * unserved tags (UNPARSED_TAGS) parse without their parameters.
 */
export function decodeCommand(cmd: Uint8Array): ClientCommand {
  const { tag, params } = splitTag(cmd);
  if (UNPARSED.has(tag)) return { tag: tag as UnparsedTag };
  if (NO_PARAMS.has(tag)) {
    if (params !== null) throw new CommandError("SYNTAX");
    return { tag } as ClientCommand;
  }
  if (params === null) {
    if (WITH_PARAMS.has(tag)) throw new CommandError("SYNTAX");
    throw new CommandError("UNKNOWN");
  }
  try {
    const c = decodeParams(tag, params);
    params.end();
    return c;
  } catch (e) {
    if (e instanceof ParseError) throw new CommandError("SYNTAX");
    throw e;
  }
}

/** Client side: the command bytes our client sends. */
export function encodeCommand(c: ClientCommand): Uint8Array {
  const e = new Encoder().ascii(c.tag);
  switch (c.tag) {
    case "NEW":
      e.byte(CHAR_SPACE).shortBytes(c.rcvAuthKey).shortBytes(c.rcvDhKey);
      e.maybe(c.basicAuth, (x, v) => x.shortBytes(v));
      e.ascii(c.subscribe ? "S" : "C");
      e.maybe(c.queueReqData, (x, q) => {
        x.ascii(q.mode);
        x.maybe(q.link, (y, l) => {
          if (q.mode === "C") y.shortBytes(l.linkId ?? new Uint8Array(0));
          y.shortBytes(l.sndId).large(l.fixedData).large(l.userData);
        });
      });
      e.maybe(c.ntfCreds, (x, n) => x.shortBytes(n.notifierKey).shortBytes(n.rcvNtfDhKey));
      break;
    case "KEY":
    case "SKEY":
      e.byte(CHAR_SPACE).shortBytes(c.senderKey);
      break;
    case "SEND":
      e.byte(CHAR_SPACE).ascii(c.notify ? "T" : "F").byte(CHAR_SPACE).raw(c.body);
      break;
    case "ACK":
      e.byte(CHAR_SPACE).shortBytes(c.msgId);
      break;
    case "PRXY":
      if (c.hosts.length < 1 || c.hosts.length > 255) throw new RangeError("PRXY takes 1 to 255 hosts");
      e.byte(CHAR_SPACE).byte(c.hosts.length);
      for (const h of c.hosts) e.shortBytes(h);
      e.shortBytes(c.port).shortBytes(c.keyHash).maybe(c.basicAuth, (x, v) => x.shortBytes(v));
      break;
    case "PFWD":
      e.byte(CHAR_SPACE).word16(c.version).shortBytes(c.commandKey).raw(c.encrypted);
      break;
    case "LSET":
    case "LKEY":
    case "RKEY":
      e.byte(CHAR_SPACE);
      encodeLinkParams(e, c);
      break;
    default:
      break;
  }
  return e.bytes();
}

// ---- Server responses ----

export interface IdsResponse {
  tag: "IDS";
  rcvId: Uint8Array;
  sndId: Uint8Array;
  srvDhKey: Uint8Array;
  queueMode: QueueMode | null;
  linkId: Uint8Array | null;
  serviceId: Uint8Array | null;
  serverNtfCreds: { notifierId: Uint8Array; srvNtfDhKey: Uint8Array } | null;
}

export type ServerResponse =
  | IdsResponse
  | { tag: "SOK"; serviceId: Uint8Array | null }
  | { tag: "OK" }
  | { tag: "PONG" }
  | { tag: "END" }
  | { tag: "DELD" }
  | { tag: "MSG"; msgId: Uint8Array; body: Uint8Array }
  | { tag: "LNK"; sndId: Uint8Array; fixedData: Uint8Array; userData: Uint8Array }
  | { tag: "INFO"; json: string }
  | { tag: "ERR"; code: ErrorCode };

const utf8 = new TextEncoder();
const utf8dec = new TextDecoder();

export function encodeResponse(r: ServerResponse): Uint8Array {
  const e = new Encoder().ascii(r.tag);
  switch (r.tag) {
    case "IDS":
      e.byte(CHAR_SPACE).shortBytes(r.rcvId).shortBytes(r.sndId).shortBytes(r.srvDhKey);
      e.maybe(r.queueMode, (x, m) => x.ascii(m));
      e.maybe(r.linkId, (x, v) => x.shortBytes(v));
      e.maybe(r.serviceId, (x, v) => x.shortBytes(v));
      e.maybe(r.serverNtfCreds, (x, n) => x.shortBytes(n.notifierId).shortBytes(n.srvNtfDhKey));
      break;
    case "SOK":
      e.byte(CHAR_SPACE).maybe(r.serviceId, (x, v) => x.shortBytes(v));
      break;
    case "MSG":
      e.byte(CHAR_SPACE).shortBytes(r.msgId).raw(r.body);
      break;
    case "LNK":
      e.byte(CHAR_SPACE).shortBytes(r.sndId).large(r.fixedData).large(r.userData);
      break;
    case "INFO":
      e.byte(CHAR_SPACE).raw(utf8.encode(r.json));
      break;
    case "ERR":
      e.byte(CHAR_SPACE).ascii(r.code);
      break;
    default:
      break;
  }
  return e.bytes();
}

/** Client side. Unknown response tags throw ParseError. */
export function decodeResponse(cmd: Uint8Array): ServerResponse {
  const { tag, params } = splitTag(cmd);
  const d = params;
  const none = (): void => {
    if (d !== null) throw new ParseError(`unexpected parameters for ${tag}`);
  };
  const need = (): Decoder => {
    if (d === null) throw new ParseError(`missing parameters for ${tag}`);
    return d;
  };
  switch (tag) {
    case "OK":
    case "PONG":
    case "END":
    case "DELD":
      none();
      return { tag };
    case "SOK": {
      const p = need();
      const serviceId = p.remaining === 0 ? null : p.maybe((x) => x.shortBytes());
      return { tag, serviceId };
    }
    case "IDS": {
      const p = need();
      const rcvId = p.shortBytes();
      const sndId = p.shortBytes();
      const srvDhKey = p.shortBytes();
      const opt = <T>(f: (x: Decoder) => T): T | null => (p.remaining > 0 ? p.maybe(f) : null);
      const queueMode = opt((x) => {
        const m = x.byte();
        if (m === 0x4d) return "M" as const;
        if (m === 0x43) return "C" as const;
        throw new ParseError("bad queue mode");
      });
      const linkId = opt((x) => x.shortBytes());
      const serviceId = opt((x) => x.shortBytes());
      const serverNtfCreds = opt((x) => ({ notifierId: x.shortBytes(), srvNtfDhKey: x.shortBytes() }));
      return { tag, rcvId, sndId, srvDhKey, queueMode, linkId, serviceId, serverNtfCreds };
    }
    case "MSG": {
      const p = need();
      return { tag, msgId: p.shortBytes(), body: p.tail() };
    }
    case "LNK": {
      const p = need();
      const r = { tag, sndId: p.shortBytes(), fixedData: p.large(), userData: p.large() } as const;
      p.end();
      return r;
    }
    case "INFO":
      return { tag, json: utf8dec.decode(need().tail()) };
    case "ERR":
      return { tag, code: bytesToAscii(need().tail()) as ErrorCode };
    default:
      throw new ParseError(`unknown response ${tag}`);
  }
}

export function errorResponse(code: ErrorCode): ServerResponse {
  return { tag: "ERR", code };
}

export { asciiBytes };
