// Minimal DER writer and reader for the X.509 pieces SMP needs (certificates, signed session keys).
// Our own because maintained X.509 libraries that do Ed25519 in workerd pull in reflect-metadata/tsyringe.
import { ParseError, asciiBytes, concatBytes } from "../protocol/encoding.js";

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

// ---- writer ----

function lengthBytes(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  if (out.length > 4) throw new RangeError("DER length too large");
  return Uint8Array.from([0x80 | out.length, ...out]);
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(tag), lengthBytes(content.length), content);
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, concatBytes(...items));

/** SET OF: DER wants the encoded elements sorted. */
export const set = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SET, concatBytes(...[...items].sort(compareBytes)));

/** Explicit context tag [n], constructed. */
export const explicit = (n: number, content: Uint8Array): Uint8Array => tlv(0xa0 | n, content);

export const boolean = (v: boolean): Uint8Array => tlv(TAG.BOOLEAN, Uint8Array.of(v ? 0xff : 0x00));

/** Non-negative INTEGER from big-endian magnitude bytes (leading zeros stripped, sign byte added). */
export function integer(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.length === 0 ? Uint8Array.of(0) : magnitude.subarray(i);
  return tlv(TAG.INTEGER, (m[0] as number) & 0x80 ? concatBytes(Uint8Array.of(0), m) : m);
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID ${dotted}`);
    return Number(s);
  });
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined || a > 2 || (a < 2 && b > 39)) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const base128: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v & 0x7f));
    out.push(...base128);
  }
  return tlv(TAG.OID, Uint8Array.from(out));
}

export const bitString = (bytes: Uint8Array, unusedBits = 0): Uint8Array =>
  tlv(TAG.BIT_STRING, concatBytes(Uint8Array.of(unusedBits), bytes));

export const octetString = (bytes: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, bytes);

export const utf8String = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, new TextEncoder().encode(s));

export function printableString(s: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new RangeError("not a PrintableString");
  return tlv(TAG.PRINTABLE_STRING, asciiBytes(s));
}

function timeDigits(d: Date, yearDigits: 2 | 4): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  const y = d.getUTCFullYear();
  return (
    (yearDigits === 2 ? p(y % 100) : p(y, 4)) +
    p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + "Z"
  );
}

export const utcTime = (d: Date): Uint8Array => tlv(TAG.UTC_TIME, asciiBytes(timeDigits(d, 2)));
export const generalizedTime = (d: Date): Uint8Array => tlv(TAG.GENERALIZED_TIME, asciiBytes(timeDigits(d, 4)));

/** X.509 Time: UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
export function x509Time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050 ? utcTime(d) : generalizedTime(d);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

// ---- reader ----

export interface Tlv {
  tag: number;
  /** The content octets. */
  value: Uint8Array;
  /** The whole element: tag, length and content. */
  der: Uint8Array;
}

/** Reads one element at `pos`. Low tag numbers only; definite lengths of up to 4 length bytes. */
export function readTlv(buf: Uint8Array, pos = 0): Tlv {
  const tag = buf[pos];
  if (tag === undefined) throw new ParseError("DER: unexpected end of input");
  if ((tag & 0x1f) === 0x1f) throw new ParseError("DER: high tag numbers not supported");
  let len = buf[pos + 1];
  if (len === undefined) throw new ParseError("DER: missing length");
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new ParseError(n === 0 ? "DER: indefinite length" : "DER: length too large");
    if (p + n > buf.length) throw new ParseError("DER: truncated length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p++] as number);
  }
  if (p + len > buf.length) throw new ParseError(`DER: element of ${len} bytes overruns input`);
  return { tag, value: buf.subarray(p, p + len), der: buf.subarray(pos, p + len) };
}

/** Reads an input that must be exactly one element. */
export function readSingle(buf: Uint8Array, expectedTag?: number): Tlv {
  const t = readTlv(buf);
  if (t.der.length !== buf.length) throw new ParseError("DER: trailing bytes");
  return expectTag(t, expectedTag);
}

/** The elements inside a constructed element. */
export function children(t: Tlv): Tlv[] {
  if ((t.tag & 0x20) === 0) throw new ParseError("DER: primitive element has no children");
  const out: Tlv[] = [];
  for (let pos = 0; pos < t.value.length; ) {
    const c = readTlv(t.value, pos);
    out.push(c);
    pos += c.der.length;
  }
  return out;
}

export function expectTag(t: Tlv, tag: number | undefined): Tlv {
  if (tag !== undefined && t.tag !== tag) throw new ParseError(`DER: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** BIT STRING content without the unused-bits byte; only whole-byte strings are accepted. */
export function bitStringBytes(t: Tlv): Uint8Array {
  expectTag(t, TAG.BIT_STRING);
  if (t.value[0] !== 0) throw new ParseError("DER: BIT STRING with unused bits");
  return t.value.subarray(1);
}

export function oidString(t: Tlv): string {
  expectTag(t, TAG.OID);
  const arcs: number[] = [];
  let v = 0;
  for (const b of t.value) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift();
  if (first === undefined || (t.value[t.value.length - 1] as number) & 0x80) throw new ParseError("DER: bad OID");
  const a = Math.min(2, Math.floor(first / 40));
  return [a, first - a * 40, ...arcs].join(".");
}
