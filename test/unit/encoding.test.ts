// Encoding primitives (WIRE.md 2.1) and block padding (2.2) against the vectors, plus decoder
// failure cases.
import { afterAll, describe, expect, it } from "vitest";
import { Decoder, Encoder, ParseError } from "../../src/protocol/encoding.js";
import { BLOCK_SIZE, ENCRYPTED_BLOCK_PAD, pad, unpad } from "../../src/protocol/padding.js";
import { h, hx, sha256hex, vectorsFor, type EncodingCase } from "./vectors.js";

const V = vectorsFor("encoding.test.ts");
afterAll(() => V.assertAllUsed());

function valueHex(c: EncodingCase): string {
  if (typeof c.value_hex !== "string") throw new Error(`case ${c.type} has no single value_hex`);
  return c.value_hex;
}

/** Encodes the case's value with our Encoder; unknown case types fail instead of passing silently. */
function encodeCase(c: EncodingCase): Uint8Array {
  const e = new Encoder(4); // small on purpose: exercises buffer growth
  switch (c.type) {
    case "Word16":
      return e.word16(c.value as number).bytes();
    case "Word32":
      return e.word32(c.value as number).bytes();
    case "Int64 (timestamp seconds)":
    case "Int64 negative":
      return e.int64(BigInt(c.value as string)).bytes();
    case "ByteString (1-byte length)":
    case "ByteString empty":
      return e.shortBytes(h(valueHex(c))).bytes();
    case "Large (2-byte BE length)":
      return e.large(h(valueHex(c))).bytes();
    case "Bool True":
    case "Bool False":
      return e.bool(c.value as boolean).bytes();
    case "Maybe ByteString Nothing":
      expect(c.value).toBeNull();
      return e.maybe<Uint8Array>(null, (x, v) => x.shortBytes(v)).bytes();
    case "Maybe ByteString Just":
      return e.maybe(h(valueHex(c)), (x, v) => x.shortBytes(v)).bytes();
    case "NonEmpty Large (2 items)": {
      const items = c.value_hex as string[];
      e.byte(items.length);
      for (const i of items) e.large(h(i));
      return e.bytes();
    }
    case "Tail (raw rest, no prefix)":
      return e.raw(h(valueHex(c))).bytes();
    default:
      throw new Error(`no encoder mapping for encoding case type "${c.type}"`);
  }
}

/** Decodes the case's bytes with our Decoder, requiring exact consumption; returns a comparable value. */
function decodeCase(c: EncodingCase, bytes: Uint8Array): unknown {
  const d = new Decoder(bytes);
  let out: unknown;
  switch (c.type) {
    case "Word16":
      out = d.word16();
      break;
    case "Word32":
      out = d.word32();
      break;
    case "Int64 (timestamp seconds)":
    case "Int64 negative":
      out = d.int64().toString();
      break;
    case "ByteString (1-byte length)":
    case "ByteString empty":
      out = hx(d.shortBytes());
      break;
    case "Large (2-byte BE length)":
      out = hx(d.large());
      break;
    case "Bool True":
    case "Bool False":
      out = d.bool();
      break;
    case "Maybe ByteString Nothing":
    case "Maybe ByteString Just": {
      const m = d.maybe((x) => x.shortBytes());
      out = m === null ? null : hx(m);
      break;
    }
    case "NonEmpty Large (2 items)":
      out = d.list((x) => x.large(), true).map(hx);
      break;
    case "Tail (raw rest, no prefix)":
      out = hx(d.tail());
      break;
    default:
      throw new Error(`no decoder mapping for encoding case type "${c.type}"`);
  }
  d.end();
  return out;
}

function expectedValue(c: EncodingCase): unknown {
  return c.value_hex !== undefined ? c.value_hex : c.value;
}

describe("encoding_primitives", () => {
  const v = V.get("encoding_primitives", "encoding");

  it("has the 13 documented cases", () => {
    expect(v.outputs.cases.map((c) => c.type)).toEqual([
      "Word16",
      "Word32",
      "Int64 (timestamp seconds)",
      "Int64 negative",
      "ByteString (1-byte length)",
      "ByteString empty",
      "Large (2-byte BE length)",
      "Bool True",
      "Bool False",
      "Maybe ByteString Nothing",
      "Maybe ByteString Just",
      "NonEmpty Large (2 items)",
      "Tail (raw rest, no prefix)",
    ]);
  });

  for (const c of v.outputs.cases) {
    it(`encodes ${c.type}`, () => {
      expect(hx(encodeCase(c))).toBe(c.hex);
    });
    it(`decodes ${c.type}`, () => {
      expect(decodeCase(c, h(c.hex))).toEqual(expectedValue(c));
    });
  }

  it("Int64 covers the full signed range", () => {
    for (const n of [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 1767225600n]) {
      const b = new Encoder().int64(n).bytes();
      expect(b.length).toBe(8);
      expect(new Decoder(b).int64()).toBe(n);
    }
    expect(hx(new Encoder().int64(-(2n ** 63n)).bytes())).toBe("8000000000000000");
  });

  it("Word32 decodes values above 2^31 as unsigned", () => {
    expect(new Decoder(h("ffffffff")).word32()).toBe(0xffffffff);
    expect(new Decoder(h("80000000")).word32()).toBe(0x80000000);
  });

  it("encoders reject out-of-range values", () => {
    expect(() => new Encoder().word16(0x10000)).toThrow(RangeError);
    expect(() => new Encoder().word16(-1)).toThrow(RangeError);
    expect(() => new Encoder().word32(2 ** 32)).toThrow(RangeError);
    expect(() => new Encoder().shortBytes(new Uint8Array(256))).toThrow(RangeError);
    expect(() => new Encoder().large(new Uint8Array(65536))).toThrow(RangeError);
    expect(hx(new Encoder().shortBytes(new Uint8Array(255)).bytes()).slice(0, 2)).toBe("ff");
  });
});

describe("decoder failures throw ParseError", () => {
  const cases: [string, string, (d: Decoder) => unknown][] = [
    ["truncated Word16", "00", (d) => d.word16()],
    ["truncated Word32", "000040", (d) => d.word32()],
    ["truncated Int64", "00000000695500", (d) => d.int64()],
    ["ByteString longer than input", "030a0b", (d) => d.shortBytes()],
    ["Large longer than input", "00030a0b", (d) => d.large()],
    ["empty input for a byte", "", (d) => d.byte()],
    ["Bool other than T/F", "74", (d) => d.bool()],
    ["Maybe tag other than 0/1", "32", (d) => d.maybe((x) => x.shortBytes())],
    ["Just without payload", "31", (d) => d.maybe((x) => x.shortBytes())],
    ["NonEmpty with count 0", "00", (d) => d.list((x) => x.large(), true)],
    ["list shorter than its count", "020001aa", (d) => d.list((x) => x.large())],
    ["missing space", "41", (d) => d.space()],
  ];
  for (const [label, bytes, read] of cases) {
    it(label, () => {
      expect(() => read(new Decoder(h(bytes)))).toThrow(ParseError);
    });
  }

  it("end() rejects trailing bytes", () => {
    const d = new Decoder(h("0013ff"));
    expect(d.word16()).toBe(19);
    expect(() => d.end()).toThrow(ParseError);
  });
});

describe("block_pad_short", () => {
  const v = V.get("block_pad_short", "block_pad");
  const payload = h(v.inputs.payload_hex);

  it("pads to the block size with a length prefix and '#' fill", () => {
    expect(v.inputs.block_size).toBe(BLOCK_SIZE);
    const block = pad(payload, v.inputs.block_size);
    expect(block.length).toBe(v.outputs.block_length);
    expect(sha256hex(block)).toBe(v.outputs.block_sha256);
    expect(hx(block.subarray(0, 64))).toBe(v.outputs.block_first64_hex);
    expect(hx(block.subarray(block.length - 1))).toBe(v.outputs.last_byte_hex);
  });

  it("unpads back to the payload", () => {
    expect(hx(unpad(pad(payload, v.inputs.block_size)))).toBe(v.inputs.payload_hex);
  });

  it("unpad ignores the fill bytes", () => {
    const block = pad(payload, 64);
    block.fill(0x00, 2 + payload.length);
    expect(hx(unpad(block))).toBe(v.inputs.payload_hex);
  });

  it("unpad fails when the length exceeds the block", () => {
    const block = pad(payload, 64);
    block[0] = 0x00;
    block[1] = 63; // 63 > 64 - 2
    expect(() => unpad(block)).toThrow(ParseError);
    expect(() => unpad(h("00"))).toThrow(ParseError);
    expect(() => unpad(new Uint8Array(0))).toThrow(ParseError);
  });

  it("pad accepts exactly size - 2 bytes and refuses more", () => {
    const full = new Uint8Array(ENCRYPTED_BLOCK_PAD - 2).fill(7);
    const block = pad(full, ENCRYPTED_BLOCK_PAD);
    expect(hx(block.subarray(0, 2))).toBe("3fee"); // 16366
    expect(unpad(block)).toEqual(full);
    expect(() => pad(new Uint8Array(ENCRYPTED_BLOCK_PAD - 1), ENCRYPTED_BLOCK_PAD)).toThrow(RangeError);
  });
});
