// Property-based tests of the encoding layer: the Decoder (every method), block padding, base64 and
// base64url, relay addresses and challenges, and batches. Random bytes and mutations of valid
// encodings give a value or ParseError, never another exception; encodings round-trip.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAddress, parseChallenge, formatAddress } from "../../src/protocol/address.js";
import { base64, base64url } from "../../src/protocol/base64.js";
import {
  decodeBatch,
  encodeBatch,
  MAX_BATCH_CONTENT,
  MAX_BATCH_COUNT,
  MAX_TRANSMISSION_SIZE,
  packBatches,
} from "../../src/protocol/batch.js";
import { Decoder, Encoder, equalBytes, ParseError } from "../../src/protocol/encoding.js";
import { BLOCK_SIZE, ENCRYPTED_BLOCK_PAD, pad, unpad } from "../../src/protocol/padding.js";
import { check, concat, hostile, largeBytes, mutatedString, shortBytes, truncations, typed } from "./fuzz-helpers.js";

// ---- Decoder ----

/** One Decoder call; `n` parameterizes take(). */
type Op =
  | { op: "take"; n: number }
  | { op: "byte" | "peek" | "word16" | "word32" | "int64" | "shortBytes" | "large" | "bool" | "tail" | "space" | "end" }
  | { op: "maybe" | "list" | "listNonEmpty" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("take" as const), n: fc.integer({ min: -2, max: 300 }) }),
  fc.constantFrom("byte", "peek", "word16", "word32", "int64", "shortBytes", "large", "bool", "tail", "space", "end").map((o) => ({ op: o })),
  fc.constantFrom("maybe", "list", "listNonEmpty").map((o) => ({ op: o })),
);

function runOp(d: Decoder, o: Op): unknown {
  switch (o.op) {
    case "take":
      return d.take(o.n);
    case "maybe":
      return d.maybe((x) => x.shortBytes());
    case "list":
      return d.list((x) => x.word16());
    case "listNonEmpty":
      return d.list((x) => x.shortBytes(), true);
    default:
      return d[o.op]();
  }
}

/** A typed value together with how to write and read it. */
type Field =
  | { t: "byte"; v: number }
  | { t: "word16"; v: number }
  | { t: "word32"; v: number }
  | { t: "int64"; v: bigint }
  | { t: "shortBytes"; v: Uint8Array }
  | { t: "large"; v: Uint8Array }
  | { t: "bool"; v: boolean }
  | { t: "maybe"; v: Uint8Array | null }
  | { t: "list"; v: Uint8Array[] }
  | { t: "ascii"; v: string };

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.record({ t: fc.constant("byte" as const), v: fc.nat(255) }),
  fc.record({ t: fc.constant("word16" as const), v: fc.nat(0xffff) }),
  fc.record({ t: fc.constant("word32" as const), v: fc.nat(0xffffffff) }),
  fc.record({ t: fc.constant("int64" as const), v: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
  fc.record({ t: fc.constant("shortBytes" as const), v: shortBytes }),
  fc.record({ t: fc.constant("large" as const), v: largeBytes }),
  fc.record({ t: fc.constant("bool" as const), v: fc.boolean() }),
  fc.record({ t: fc.constant("maybe" as const), v: fc.option(shortBytes, { nil: null }) }),
  fc.record({ t: fc.constant("list" as const), v: fc.array(shortBytes, { minLength: 1, maxLength: 8 }) }),
  fc.record({ t: fc.constant("ascii" as const), v: fc.string({ unit: "binary-ascii", maxLength: 20 }) }),
);

function writeField(e: Encoder, f: Field): void {
  switch (f.t) {
    case "maybe":
      e.maybe(f.v, (x, v) => x.shortBytes(v));
      return;
    case "list":
      e.byte(f.v.length);
      for (const b of f.v) e.shortBytes(b);
      return;
    case "byte":
    case "word16":
    case "word32":
      e[f.t](f.v);
      return;
    case "int64":
      e.int64(f.v);
      return;
    case "shortBytes":
    case "large":
      e[f.t](f.v);
      return;
    case "bool":
      e.bool(f.v);
      return;
    case "ascii":
      e.ascii(f.v);
      return;
  }
}

function readField(d: Decoder, f: Field): unknown {
  switch (f.t) {
    case "maybe":
      return d.maybe((x) => x.shortBytes());
    case "list":
      return d.list((x) => x.shortBytes(), true);
    case "ascii":
      return String.fromCharCode(...d.take(f.v.length));
    default:
      return d[f.t]();
  }
}

describe("Decoder", () => {
  it("any sequence of reads over any bytes returns or throws ParseError, and pos stays in bounds", () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(op, { maxLength: 12 }), (buf, ops) => {
        const d = new Decoder(buf);
        for (const o of ops) {
          const before = d.pos;
          typed(() => runOp(d, o), ParseError);
          expect(Number.isInteger(d.pos)).toBe(true);
          expect(d.pos).toBeGreaterThanOrEqual(before);
          expect(d.pos).toBeLessThanOrEqual(buf.length);
          expect(d.remaining).toBe(buf.length - d.pos);
        }
      }),
      600,
    );
  });

  it("take, byte, word16, word32, int64, shortBytes and large on a short input throw ParseError, never read past the end", () => {
    for (let len = 0; len < 10; len++) {
      const buf = new Uint8Array(len).fill(0xff);
      for (const o of ["byte", "word16", "word32", "int64", "shortBytes", "large"] as const) {
        const d = new Decoder(buf);
        typed(() => d[o](), ParseError);
        expect(d.pos).toBeLessThanOrEqual(len);
      }
      expect(() => new Decoder(buf).take(len + 1)).toThrow(ParseError);
      expect(() => new Decoder(buf).take(-1)).toThrow(ParseError);
    }
  });

  it("whatever the Encoder writes, the Decoder reads back: every field type, in any order", () => {
    check(
      fc.property(fc.array(field, { maxLength: 10 }), fc.integer({ min: 1, max: 64 }), (fields, cap) => {
        const e = new Encoder(cap);
        for (const f of fields) writeField(e, f);
        const bytes = e.bytes();
        const d = new Decoder(bytes);
        for (const f of fields) expect(readField(d, f)).toEqual(f.v);
        d.end();
        // Every strict prefix fails with ParseError (or reads fewer fields), never anything else.
        for (const p of truncations(bytes.length > 200 ? bytes.subarray(0, 200) : bytes)) {
          typed(() => {
            const dp = new Decoder(p);
            for (const f of fields) readField(dp, f);
            dp.end();
          }, ParseError);
        }
      }),
      300,
    );
  });

  it("bool and maybe accept exactly their two tag bytes", () => {
    for (let b = 0; b < 256; b++) {
      const v = typed(() => new Decoder(Uint8Array.of(b)).bool(), ParseError);
      expect(v === undefined).toBe(b !== 0x54 && b !== 0x46);
      const m = typed(() => new Decoder(Uint8Array.of(b)).maybe(() => 7), ParseError);
      expect(m === undefined).toBe(b !== 0x30 && b !== 0x31);
    }
  });
});

// ---- padding ----

describe("padding", () => {
  it("unpad(pad(m, size)) is m for every length that fits", () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 100 }), (m, slack) => {
        const size = m.length + 2 + slack;
        expect(unpad(pad(m, size))).toEqual(m);
      }),
      300,
    );
    const big = new Uint8Array(ENCRYPTED_BLOCK_PAD - 2).fill(7);
    expect(unpad(pad(big, ENCRYPTED_BLOCK_PAD))).toEqual(big);
    expect(unpad(pad(new Uint8Array(0), BLOCK_SIZE))).toEqual(new Uint8Array(0));
  });

  it("unpad of any bytes returns a slice within the block or throws ParseError", () => {
    const valid = fc.uint8Array({ maxLength: 100 }).map((m) => pad(m, m.length + 10));
    check(
      fc.property(hostile(valid, 300), (b) => {
        const r = typed(() => unpad(b), ParseError);
        if (r !== undefined) {
          expect(r.length).toBe(((b[0] as number) << 8) | (b[1] as number));
          expect(r.length + 2).toBeLessThanOrEqual(b.length);
        } else {
          expect(b.length < 2 || (((b[0] as number) << 8) | (b[1] as number)) > b.length - 2).toBe(true);
        }
      }),
      500,
    );
  });
});

// ---- base64 ----

const URL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const b64ish = fc.string({ unit: fc.constantFrom(...(URL_CHARS + "+/=").split("")), maxLength: 80 });

describe("base64 and base64url", () => {
  it("decode(encode(b)) is b, for both alphabets", () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const u = base64url.encode(b);
        expect(u).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(base64url.decode(u)).toEqual(b);
        const s = base64.encode(b);
        expect(s.length % 4).toBe(0);
        expect(base64.decode(s)).toEqual(b);
        expect(s).toBe(Buffer.from(b).toString("base64"));
        expect(u).toBe(Buffer.from(b).toString("base64url"));
      }),
      300,
    );
  });

  it("any string decodes to bytes or throws ParseError; a decoded unpadded string re-encodes to itself", () => {
    const strings = fc.oneof(b64ish, fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 20 }), mutatedString(b64ish));
    check(
      fc.property(strings, (s) => {
        const u = typed(() => base64url.decode(s), ParseError);
        // Decoding is canonical: no two strings over the alphabet give the same bytes.
        if (u !== undefined && /^[A-Za-z0-9_-]*$/.test(s)) expect(base64url.encode(u)).toBe(s);
        const t = typed(() => base64.decode(s), ParseError);
        if (t !== undefined && /^[A-Za-z0-9+/]*$/.test(s)) expect(base64.encode(t).replace(/=+$/, "")).toBe(s);
      }),
      500,
    );
  });

  it("takes time linear in the input, whatever the padding (no regex backtracking)", () => {
    // A long run of "=" not at the end was quadratic with a /=+$/ strip: 64 KiB took seconds.
    const strings = fc.tuple(
      fc.integer({ min: 1000, max: 40_000 }),
      fc.constantFrom("=", "A", "AA="),
      fc.string({ unit: fc.constantFrom(...STD_CHARS.split(""), "=", "!"), minLength: 1, maxLength: 4 }),
    );
    check(
      fc.property(strings, ([n, unit, end]) => {
        const s = unit.repeat(Math.ceil(n / unit.length)) + end;
        const t0 = performance.now();
        typed(() => base64url.decode(s), ParseError);
        typed(() => base64.decode(s), ParseError);
        typed(() => parseChallenge(`/?challenge=${s}`), ParseError);
        expect(performance.now() - t0).toBeLessThan(250);
      }),
      30,
    );
  });
});

// ---- addresses and challenges ----

describe("regressions", () => {
  it("base64 decoding strips trailing padding in linear time (was a quadratic /=+$/ regex)", () => {
    // Counterexample found by the property above: [10103, "=", "bi"], i.e. 10103 "=" then "bi".
    for (const s of ["=".repeat(10103) + "bi", "=".repeat(65536) + "x", "A".repeat(65536) + "=".repeat(65536) + "!"]) {
      const t0 = performance.now();
      expect(() => base64url.decode(s)).toThrow(ParseError);
      expect(() => base64.decode(s)).toThrow(ParseError);
      expect(parseChallenge(`/?challenge=${s}`)).toBeNull();
      expect(performance.now() - t0).toBeLessThan(250);
    }
    expect(base64url.decode("AAAA" + "=".repeat(65536))).toEqual(new Uint8Array(3));
  });
});

describe("parseAddress and parseChallenge", () => {
  const host = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}(:[0-9]{1,5})?$/);
  const address = fc.record({ keyHash: fc.uint8Array({ minLength: 32, maxLength: 32 }), host });

  it("parseAddress(formatAddress(a)) is a", () => {
    check(
      fc.property(address, (a) => {
        expect(parseAddress(formatAddress(a))).toEqual(a);
        expect(parseAddress(` ${formatAddress(a)}/ `)).toEqual(a);
      }),
      200,
    );
  });

  it("parseAddress of any string, or of a mutated address, gives an address or ParseError", () => {
    check(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), mutatedString(address.map(formatAddress))), (s) => {
        const a = typed(() => parseAddress(s), ParseError);
        if (a !== undefined) {
          expect(a.keyHash.length).toBe(32);
          expect(a.host).toMatch(/^[^/?#\s]+$/);
        }
      }),
      800,
    );
  });

  it("parseChallenge never throws: 32 bytes or null", () => {
    const good = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((c) => `/?challenge=${base64url.encode(c)}`);
    check(
      fc.property(fc.oneof(fc.string({ maxLength: 100 }), good, mutatedString(good)), (target) => {
        const c = typed(() => parseChallenge(target));
        if (c !== null && c !== undefined) expect(c.length).toBe(32);
      }),
      800,
    );
    check(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string({ maxLength: 20 }), (c, other) => {
        const v = base64url.encode(c);
        expect(parseChallenge(`/?challenge=${v}`)).toEqual(c);
        expect(parseChallenge(`/x?challenge=${v}&${other.replace(/challenge=/g, "")}`)).toEqual(c);
      }),
      100,
    );
  });
});

// ---- batches ----

/** A list of transmissions: many small ones (to reach 255 items), big ones (to fill a block), or a mix. */
const items = fc.oneof(
  fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 0, maxLength: 700 }),
  fc.array(fc.uint8Array({ minLength: 1000, maxLength: MAX_TRANSMISSION_SIZE }), { maxLength: 6 }),
  fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 5000, maxLength: MAX_TRANSMISSION_SIZE }) },
      { weight: 1, arbitrary: fc.constant(new Uint8Array(MAX_TRANSMISSION_SIZE)) },
    ),
    { maxLength: 60 },
  ),
);

const batch = fc.array(fc.uint8Array({ maxLength: 60 }), { minLength: 1, maxLength: 20 }).map((b) => encodeBatch(b));

describe("batches", () => {
  it("packBatches: the batches concatenate to the input; each is 1..255 items, encodes within a block, and the next item would not have fit", () => {
    check(
      fc.property(items, (ts) => {
        const batches = packBatches(ts);
        const flat = batches.flat();
        expect(flat.length).toBe(ts.length);
        expect(flat.every((t, i) => t === ts[i])).toBe(true);
        for (let i = 0; i < batches.length; i++) {
          const b = batches[i]!;
          expect(b.length).toBeGreaterThanOrEqual(1);
          expect(b.length).toBeLessThanOrEqual(MAX_BATCH_COUNT);
          const content = encodeBatch(b);
          expect(content.length).toBeLessThanOrEqual(MAX_BATCH_CONTENT);
          expect(content.length).toBeLessThanOrEqual(16366);
          const back = decodeBatch(content);
          expect(back.length === b.length && back.every((t, j) => equalBytes(t, b[j]!))).toBe(true);
          // The content fits an encrypted block once padded.
          expect(pad(content, ENCRYPTED_BLOCK_PAD).length).toBe(ENCRYPTED_BLOCK_PAD);
          // Greedy: a batch closes only when the next item would overflow it.
          const next = batches[i + 1]?.[0];
          if (next !== undefined) {
            const full = b.length === MAX_BATCH_COUNT || content.length + 2 + next.length > MAX_BATCH_CONTENT;
            expect(full).toBe(true);
          }
        }
      }),
      120,
    );
  });

  it("decodeBatch(encodeBatch(items)) is items", () => {
    check(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { minLength: 1, maxLength: 255 }), (ts) => {
        expect(decodeBatch(encodeBatch(ts))).toEqual(ts);
      }),
      200,
    );
  });

  it("decodeBatch of random bytes, mutated batches and every truncation gives items or ParseError", () => {
    check(
      fc.property(hostile(batch), (b) => {
        const r = typed(() => decodeBatch(b), ParseError);
        if (r !== undefined) {
          expect(r.length).toBeGreaterThanOrEqual(1);
          expect(r.reduce((n, t) => n + 2 + t.length, 1)).toBe(b.length);
        }
      }),
      1000,
    );
    check(
      fc.property(batch, (b) => {
        for (const p of truncations(b)) expect(() => decodeBatch(p)).toThrow(ParseError);
        expect(() => decodeBatch(concat(b, Uint8Array.of(0)))).toThrow(ParseError);
      }),
      100,
    );
  });
});
