// Byte vectors of our own for the short-link commands and replies (WIRE.md 6.2, 6.13, 6.13a), in
// test/fixtures/link-vectors.json (hand-assembled from WIRE.md, not from src/). Every vector is
// encoded and decoded byte-exact; each command vector is also cut short and extended, which must
// be CMD SYNTAX. (Not in covered-vectors.ts: that registry is for the real client's vectors.json.)
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeCommand, decodeResponse, encodeCommand, encodeResponse, type ClientCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { CommandError } from "../../src/protocol/errors.js";
import { h, hx } from "./vectors.js";

type Hex = string;
interface LinkVector {
  name: string;
  kind: "command" | "response";
  section: string;
  description: string;
  value: Record<string, Hex | Hex[] | boolean | string | null>;
  hex: Hex;
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/link-vectors.json", import.meta.url), "utf8")) as { vectors: LinkVector[] };
const byName = new Map(fixture.vectors.map((v) => [v.name, v]));

function vec(name: string): LinkVector {
  const v = byName.get(name);
  if (v === undefined) throw new Error(`no link vector ${name}`);
  return v;
}
function hexOf(v: LinkVector, k: string): Uint8Array {
  const x = v.value[k];
  if (typeof x !== "string") throw new Error(`${v.name}.${k} is not hex`);
  return h(x);
}
function maybeHexOf(v: LinkVector, k: string): Uint8Array | null {
  return v.value[k] === null ? null : hexOf(v, k);
}

/** The typed value each command vector stands for, built from its `value` fields. */
const COMMANDS: Record<string, (v: LinkVector) => ClientCommand> = {
  LSET: (v) => ({ tag: "LSET", linkId: hexOf(v, "linkId_hex"), fixedData: hexOf(v, "fixedData_hex"), userData: hexOf(v, "userData_hex") }),
  LSET_empty_user: (v) => COMMANDS.LSET!(v),
  LDEL: () => ({ tag: "LDEL" }),
  LKEY: (v) => ({ tag: "LKEY", senderKey: hexOf(v, "senderKey_hex") }),
  RKEY_one: (v) => ({ tag: "RKEY", recipientKeys: (v.value.recipientKeys_hex as Hex[]).map(h) }),
  RKEY_two: (v) => COMMANDS.RKEY_one!(v),
  NEW_M_link: (v) => newWithLink(v),
  NEW_C_link: (v) => newWithLink(v),
};

function newWithLink(v: LinkVector): ClientCommand {
  const mode = v.value.mode;
  if (mode !== "M" && mode !== "C") throw new Error("bad mode");
  return {
    tag: "NEW",
    rcvAuthKey: hexOf(v, "rcvAuthKey_hex"),
    rcvDhKey: hexOf(v, "rcvDhKey_hex"),
    basicAuth: null,
    subscribe: v.value.subscribe === true,
    queueReqData: {
      mode,
      link: { linkId: maybeHexOf(v, "linkId_hex"), sndId: hexOf(v, "sndId_hex"), fixedData: hexOf(v, "fixedData_hex"), userData: hexOf(v, "userData_hex") },
    },
    ntfCreds: null,
  };
}

const RESPONSES: Record<string, (v: LinkVector) => ServerResponse> = {
  IDS_C_link: (v) => idsWithLink(v),
  IDS_M_link: (v) => idsWithLink(v),
  LNK: (v) => ({ tag: "LNK", sndId: hexOf(v, "sndId_hex"), fixedData: hexOf(v, "fixedData_hex"), userData: hexOf(v, "userData_hex") }),
};

function idsWithLink(v: LinkVector): ServerResponse {
  const queueMode = v.value.queueMode;
  if (queueMode !== "M" && queueMode !== "C") throw new Error("bad mode");
  return {
    tag: "IDS",
    rcvId: hexOf(v, "rcvId_hex"),
    sndId: hexOf(v, "sndId_hex"),
    srvDhKey: hexOf(v, "srvDhKey_hex"),
    queueMode,
    linkId: hexOf(v, "linkId_hex"),
    serviceId: null,
    serverNtfCreds: null,
  };
}

/** Uint8Arrays as hex, so that toEqual compares bytes and prints them readably. */
function hexify(x: unknown): unknown {
  if (x instanceof Uint8Array) return hx(x);
  if (Array.isArray(x)) return x.map(hexify);
  if (x !== null && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, hexify(v)]));
  return x;
}

function syntaxError(b: Uint8Array): string {
  try {
    decodeCommand(b);
  } catch (e) {
    if (e instanceof CommandError) return e.code;
    throw e;
  }
  return "decoded";
}

describe("link-vectors.json", () => {
  it("has one vector per new command and reply, each naming its WIRE.md section", () => {
    expect(fixture.vectors.map((v) => v.name).sort()).toEqual([...Object.keys(COMMANDS), ...Object.keys(RESPONSES)].sort());
    for (const v of fixture.vectors) expect(v.description.startsWith(`WIRE.md ${v.section}:`), v.name).toBe(true);
  });

  for (const [name, build] of Object.entries(COMMANDS)) {
    it(`${name}: encodeCommand gives the vector's bytes, decodeCommand gives the value back`, () => {
      const v = vec(name);
      expect(v.kind).toBe("command");
      const c = build(v);
      expect(hx(encodeCommand(c))).toBe(v.hex);
      expect(hexify(decodeCommand(h(v.hex)))).toEqual(hexify(c));
    });

    it(`${name}: a byte more, or any strict prefix that keeps the tag, is CMD SYNTAX`, () => {
      const b = h(vec(name).hex);
      const extra = b.length === 4 ? new Uint8Array([...b, 0x20, 0x00]) : new Uint8Array([...b, 0x00]);
      expect(syntaxError(extra)).toBe("SYNTAX");
      for (let n = 5; n < b.length; n++) expect(syntaxError(b.subarray(0, n)), `prefix of ${n}`).toBe("SYNTAX");
    });
  }

  for (const [name, build] of Object.entries(RESPONSES)) {
    it(`${name}: encodeResponse gives the vector's bytes, decodeResponse gives the value back`, () => {
      const v = vec(name);
      expect(v.kind).toBe("response");
      const r = build(v);
      expect(hx(encodeResponse(r))).toBe(v.hex);
      expect(hexify(decodeResponse(h(v.hex)))).toEqual(hexify(r));
    });
  }

  it("RKEY with no keys is refused both ways: count 0 is CMD SYNTAX, the encoder throws RangeError", () => {
    expect(syntaxError(new Uint8Array([...new TextEncoder().encode("RKEY "), 0]))).toBe("SYNTAX");
    expect(() => encodeCommand({ tag: "RKEY", recipientKeys: [] })).toThrow(RangeError);
  });

  it("LSET, LKEY and RKEY without parameters are CMD SYNTAX; LDEL with parameters is CMD SYNTAX", () => {
    for (const t of ["LSET", "LKEY", "RKEY", "LSET ", "LKEY ", "RKEY "]) expect(syntaxError(new TextEncoder().encode(t)), t).toBe("SYNTAX");
    expect(syntaxError(new TextEncoder().encode("LDEL x"))).toBe("SYNTAX");
  });
});
