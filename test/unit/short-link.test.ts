// Short-link strings (src/client/shortLink.ts): upstream's exact forms, round trips, and typed
// rejection of malformed links.
//
// The literal links below are copied from simplexmq's tests/AgentTests/ConnectionRequestTests.hs
// ("should serialize / parse short links"), whose values are: hosts "smp.simplex.im" and the onion
// host below, port "5223", keyHash bytes d7 6d f8 fb ("1234-w"); the preset server `shortSrv` has
// only "smp.simplex.im", no port, no keyHash; linkKey = ASCII "0123456789abcdef0123456789abcdef";
// invitation linkId = ASCII "0123456789abcdef01234567".
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatShortLink, parseShortLink, relayLinkServer, ShortLinkError, type ShortLink, type ShortLinkServer } from "../../src/protocol/shortLink.js";
import { check, typed } from "./fuzz-helpers.js";
import { ascii, h, hx } from "./vectors.js";

const ONION = "jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion";
const srv: ShortLinkServer = { hosts: ["smp.simplex.im", ONION], port: "5223", keyHash: h("d76df8fb") };
const shortSrv: ShortLinkServer = { hosts: ["smp.simplex.im"], port: "", keyHash: new Uint8Array(0) };
const linkKey = ascii("0123456789abcdef0123456789abcdef");
const linkId = ascii("0123456789abcdef01234567");

const UPSTREAM: [string, ShortLink, string][] = [
  ["contact, https, full server", { mode: "contact", scheme: "https", type: "contact", server: srv, linkKey }, `https://smp.simplex.im/a#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=${ONION}&p=5223&c=1234-w`],
  ["group, https, full server", { mode: "contact", scheme: "https", type: "group", server: srv, linkKey }, `https://smp.simplex.im/g#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=${ONION}&p=5223&c=1234-w`],
  ["contact, https, preset server", { mode: "contact", scheme: "https", type: "contact", server: shortSrv, linkKey }, "https://smp.simplex.im/a#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"],
  ["invitation, https, full server", { mode: "invitation", scheme: "https", server: srv, linkId, linkKey }, `https://smp.simplex.im/i#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3/MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=${ONION}&p=5223&c=1234-w`],
  ["invitation, https, preset server", { mode: "invitation", scheme: "https", server: shortSrv, linkId, linkKey }, "https://smp.simplex.im/i#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3/MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"],
  ["contact, simplex:, full server", { mode: "contact", scheme: "simplex", type: "contact", server: srv, linkKey }, `simplex:/a#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=smp.simplex.im%2C${ONION}&p=5223&c=1234-w`],
  ["group, simplex:, full server", { mode: "contact", scheme: "simplex", type: "group", server: srv, linkKey }, `simplex:/g#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=smp.simplex.im%2C${ONION}&p=5223&c=1234-w`],
  ["contact, simplex:, preset server", { mode: "contact", scheme: "simplex", type: "contact", server: shortSrv, linkKey }, "simplex:/a#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=smp.simplex.im"],
  ["invitation, simplex:, full server", { mode: "invitation", scheme: "simplex", server: srv, linkId, linkKey }, `simplex:/i#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3/MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=smp.simplex.im%2C${ONION}&p=5223&c=1234-w`],
  ["invitation, simplex:, preset server", { mode: "invitation", scheme: "simplex", server: shortSrv, linkId, linkKey }, "simplex:/i#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3/MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=smp.simplex.im"],
];

function hexify(x: unknown): unknown {
  if (x instanceof Uint8Array) return hx(x);
  if (Array.isArray(x)) return x.map(hexify);
  if (x !== null && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, hexify(v)]));
  return x;
}

describe("upstream's short-link strings", () => {
  for (const [label, link, s] of UPSTREAM) {
    it(`${label}: formats to upstream's string and parses back`, () => {
      expect(formatShortLink(link)).toBe(s);
      expect(hexify(parseShortLink(s))).toEqual(hexify(link));
    });
  }
});

describe("links to this relay", () => {
  const keyHash = new Uint8Array(32).fill(7);
  it("relayLinkServer takes the host and port apart", () => {
    expect(hexify(relayLinkServer({ keyHash, host: "relay.example.com" }))).toEqual(hexify({ hosts: ["relay.example.com"], port: "", keyHash }));
    expect(hexify(relayLinkServer({ keyHash, host: "localhost:8787" }))).toEqual(hexify({ hosts: ["localhost"], port: "8787", keyHash }));
  });

  it("an address and an invitation name the relay's host, keyHash and the link id", () => {
    const server = relayLinkServer({ keyHash, host: "relay.example.com" });
    const c = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
    expect(formatShortLink({ mode: "contact", scheme: "https", type: "contact", server, linkKey })).toBe(
      `https://relay.example.com/a#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?c=${c}`,
    );
    const inv = formatShortLink({ mode: "invitation", scheme: "https", server, linkId, linkKey });
    expect(inv).toBe(`https://relay.example.com/i#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3/MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?c=${c}`);
    const back = parseShortLink(inv);
    expect(back.mode === "invitation" && hx(back.linkId)).toBe(hx(linkId));
  });
});

const host = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/);
const server: fc.Arbitrary<ShortLinkServer> = fc.record({
  hosts: fc.array(host, { minLength: 1, maxLength: 3 }),
  port: fc.oneof(fc.constant(""), fc.integer({ min: 1, max: 65535 }).map(String)),
  keyHash: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 32, maxLength: 32 })),
});
const link: fc.Arbitrary<ShortLink> = fc.oneof(
  fc.record({
    mode: fc.constant("contact" as const),
    scheme: fc.constantFrom("https" as const, "simplex" as const),
    type: fc.constantFrom("contact" as const, "group" as const, "channel" as const, "relay" as const),
    server,
    linkKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  }),
  fc.record({
    mode: fc.constant("invitation" as const),
    scheme: fc.constantFrom("https" as const, "simplex" as const),
    server,
    linkId: fc.uint8Array({ minLength: 24, maxLength: 24 }),
    linkKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  }),
);

describe("round trips and rejection", () => {
  it("parseShortLink(formatShortLink(l)) is l, and the string is canonical", () => {
    check(
      fc.property(link, (l) => {
        const s = formatShortLink(l);
        expect(hexify(parseShortLink(s))).toEqual(hexify(l));
        expect(formatShortLink(parseShortLink(s))).toBe(s);
      }),
      500,
    );
  });

  it("any string, or a mutated link, gives a link or ShortLinkError, never another exception", () => {
    const mutated = fc.tuple(link.map(formatShortLink), fc.nat(), fc.string({ maxLength: 3 }), fc.nat(3)).map(([s, at, ins, del]) => {
      const i = at % (s.length + 1);
      return s.slice(0, i) + ins + s.slice(i + del);
    });
    check(
      fc.property(fc.oneof(fc.string({ maxLength: 120 }), mutated), (s) => {
        const l = typed(() => parseShortLink(s), ShortLinkError);
        if (l !== undefined) expect(l.linkKey.length).toBe(32);
      }),
      1500,
    );
  });

  const key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
  const id = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";
  const bad: [string, string][] = [
    ["another scheme", `http://smp.simplex.im/a#${key}`],
    ["no path", "https://smp.simplex.im"],
    ["an unknown type", `https://smp.simplex.im/x#${key}`],
    ["a long path", `https://smp.simplex.im/ab#${key}`],
    ["no fragment", "https://smp.simplex.im/a"],
    ["a short key", "https://smp.simplex.im/a#MDEy"],
    ["a key that is not base64url", `https://smp.simplex.im/a#${key.slice(0, -1)}+`],
    ["a padded key", `https://smp.simplex.im/a#${key}=`],
    ["an invitation without its id", `https://smp.simplex.im/i#${key}`],
    ["an invitation with a short id", `https://smp.simplex.im/i#MDEy/${key}`],
    ["an invitation with three parts", `https://smp.simplex.im/i#${id}/${key}/${key}`],
    ["simplex: without hosts", `simplex:/a#${key}`],
    ["an empty host", `https:///a#${key}`],
    ["a host with a port in the URL", `https://smp.simplex.im:5223/a#${key}`],
    ["a bad extra host", `https://smp.simplex.im/a#${key}?h=a%2F`],
    ["a bad port", `https://smp.simplex.im/a#${key}?p=52x`],
    ["a bad keyHash", `https://smp.simplex.im/a#${key}?c=%%`],
    ["a repeated parameter", `https://smp.simplex.im/a#${key}?p=1&p=2`],
    ["a parameter without value", `https://smp.simplex.im/a#${key}?p`],
  ];
  for (const [label, s] of bad) {
    it(`rejects ${label} with ShortLinkError`, () => {
      expect(() => parseShortLink(s)).toThrow(ShortLinkError);
    });
  }

  it("formatShortLink refuses a link value that would not parse", () => {
    expect(() => formatShortLink({ mode: "contact", scheme: "https", type: "contact", server: { ...shortSrv, hosts: [] }, linkKey })).toThrow(ShortLinkError);
    expect(() => formatShortLink({ mode: "invitation", scheme: "https", server: shortSrv, linkId: new Uint8Array(3), linkKey })).toThrow(ShortLinkError);
    expect(() => formatShortLink({ mode: "contact", scheme: "https", type: "contact", server: { ...shortSrv, port: "x" }, linkKey })).toThrow(ShortLinkError);
  });
});
