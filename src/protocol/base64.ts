// base64url without padding (challenges, keyHash in addresses) and standard base64 (INFO JSON).
import { ParseError } from "./encoding.js";

const URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function encode(b: Uint8Array, alphabet: string, padded: boolean): string {
  let s = "";
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] as number) << 8) | (b[i + 2] as number);
    s += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]! + alphabet[(n >>> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = (b[i] as number) << 16;
    s += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]! + (padded ? "==" : "");
  } else if (rest === 2) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] as number) << 8);
    s += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]! + alphabet[(n >>> 6) & 63]! + (padded ? "=" : "");
  }
  return s;
}

function decode(s: string, alphabet: string): Uint8Array {
  // Strip trailing "=" with a loop: /=+$/ backtracks from every "=" of a run not at the end,
  // quadratic in the run's length (a 16 KiB `?challenge=` value cost a quarter of a second).
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d /* = */) end--;
  const t = s.slice(0, end);
  if (t.length % 4 === 1) throw new ParseError("bad base64 length");
  const out = new Uint8Array(Math.floor((t.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of t) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new ParseError("bad base64 character");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // Non-zero leftover bits mean a non-canonical encoding.
  if ((acc & ((1 << bits) - 1)) !== 0) throw new ParseError("non-canonical base64");
  return out;
}

export const base64url = {
  encode: (b: Uint8Array): string => encode(b, URL_ALPHABET, false),
  decode: (s: string): Uint8Array => decode(s, URL_ALPHABET),
};

export const base64 = {
  encode: (b: Uint8Array): string => encode(b, STD_ALPHABET, true),
  decode: (s: string): Uint8Array => decode(s, STD_ALPHABET),
};
