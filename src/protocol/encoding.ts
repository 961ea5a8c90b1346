// SMP binary encoding: big-endian integers, length-prefixed byte strings, Maybe, Bool and lists.
// Pure functions over Uint8Array; decoding failures throw ParseError and nothing else.

/** A decoding failure. Every decoder in src/protocol throws this type and only this type. */
export class ParseError extends Error {
  override readonly name = "ParseError";
}

/** Grows a byte buffer; `bytes()` returns exactly what was written. */
export class Encoder {
  private buf: Uint8Array;
  private len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  word16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`word16 out of range: ${v}`);
    return this.byte(v >>> 8).byte(v);
  }

  word32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`word32 out of range: ${v}`);
    return this.byte(v >>> 24).byte(v >>> 16).byte(v >>> 8).byte(v);
  }

  /** Int64, two's complement. Takes a bigint so that the full range is exact. */
  int64(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    return this.word32(Number(u >> 32n)).word32(Number(u & 0xffffffffn));
  }

  /** ByteString: 1-byte length, then the bytes (at most 255). */
  shortBytes(b: Uint8Array): this {
    if (b.length > 255) throw new RangeError(`ByteString too long: ${b.length}`);
    return this.byte(b.length).raw(b);
  }

  /** Large: Word16 length, then the bytes (at most 65535). */
  large(b: Uint8Array): this {
    return this.word16(b.length).raw(b);
  }

  bool(v: boolean): this {
    return this.byte(v ? CHAR_T : CHAR_F);
  }

  maybe<T>(v: T | null | undefined, enc: (e: this, v: T) => void): this {
    if (v === null || v === undefined) return this.byte(CHAR_0);
    this.byte(CHAR_1);
    enc(this, v);
    return this;
  }

  /** ASCII text, e.g. a command tag. */
  ascii(s: string): this {
    return this.raw(asciiBytes(s));
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Reads from a byte array; every read checks bounds and throws ParseError when short. */
export class Decoder {
  pos = 0;

  constructor(readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.buf.length) throw new ParseError(`need ${n} bytes, have ${this.remaining}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new ParseError("unexpected end of input");
    return this.buf[this.pos++] as number;
  }

  peek(): number | undefined {
    return this.buf[this.pos];
  }

  word16(): number {
    const b = this.take(2);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  word32(): number {
    const b = this.take(4);
    return (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>> 0;
  }

  int64(): bigint {
    const hi = BigInt(this.word32());
    const lo = BigInt(this.word32());
    return BigInt.asIntN(64, (hi << 32n) | lo);
  }

  shortBytes(): Uint8Array {
    return this.take(this.byte());
  }

  large(): Uint8Array {
    return this.take(this.word16());
  }

  bool(): boolean {
    const c = this.byte();
    if (c === CHAR_T) return true;
    if (c === CHAR_F) return false;
    throw new ParseError(`bad Bool byte 0x${c.toString(16)}`);
  }

  maybe<T>(dec: (d: this) => T): T | null {
    const c = this.byte();
    if (c === CHAR_0) return null;
    if (c === CHAR_1) return dec(this);
    throw new ParseError(`bad Maybe byte 0x${c.toString(16)}`);
  }

  /** A counted list; `nonEmpty` rejects a zero count. */
  list<T>(dec: (d: this) => T, nonEmpty = false): T[] {
    const n = this.byte();
    if (nonEmpty && n === 0) throw new ParseError("empty NonEmpty list");
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(dec(this));
    return out;
  }

  /** Everything that is left. */
  tail(): Uint8Array {
    return this.take(this.remaining);
  }

  /** Expects a single space separator. */
  space(): void {
    if (this.byte() !== CHAR_SPACE) throw new ParseError("expected space");
  }

  /** Requires that the input was consumed exactly. */
  end(): void {
    if (this.remaining !== 0) throw new ParseError(`${this.remaining} trailing bytes`);
  }
}

export const CHAR_0 = 0x30;
export const CHAR_1 = 0x31;
export const CHAR_T = 0x54;
export const CHAR_F = 0x46;
export const CHAR_SPACE = 0x20;

export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) throw new RangeError("not ASCII");
    out[i] = c;
  }
  return out;
}

export function bytesToAscii(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compares in time that depends only on the lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

export function hex(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += c.toString(16).padStart(2, "0");
  return s;
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new ParseError("bad hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
