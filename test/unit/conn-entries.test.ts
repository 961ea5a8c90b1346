// The per-queue entries a Session keeps in its socket attachment (src/server/connEntries.ts):
// packed and unpacked without loss, sized as packed, and bytes it did not write refused.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ATTACHED_MAX, packEntries, packedSize, sameEntry, unpackEntries, type ConnQueue } from "../../src/server/connEntries.js";
import { check } from "./fuzz-helpers.js";

const queueName = fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => Buffer.from(b).toString("hex"));
const entry: fc.Arbitrary<ConnQueue> = fc.oneof(
  fc.record({ mode: fc.constant("sub" as const), gen: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ mode: fc.constant("get" as const), delivered: fc.option(fc.uint8Array({ minLength: 0, maxLength: 64 }), { nil: null }) }),
);
const entries = fc.uniqueArray(fc.tuple(queueName, entry), { selector: ([q]) => q, maxLength: 60 }).map((a) => new Map(a));

describe("packed connection entries", () => {
  it("round-trip, and take the bytes packedSize says", () => {
    check(
      fc.property(entries, (m) => {
        const b = packEntries(m);
        expect(b.length).toBe(packedSize(m));
        const back = unpackEntries(b);
        expect([...back.keys()]).toEqual([...m.keys()]);
        for (const [q, e] of m) expect(sameEntry(back.get(q)!, e), q).toBe(true);
      }),
      200,
    );
  });

  it("a subscription takes 17 bytes: about 80 fit in the attachment's share", () => {
    expect(packedSize(new Map([["00".repeat(12), { mode: "sub", gen: 1 }]]))).toBe(17);
    expect(Math.floor(ATTACHED_MAX / 17)).toBeGreaterThanOrEqual(80);
  });

  it("refuses truncated bytes, unknown tags and names that are not queue keys", () => {
    const b = packEntries(new Map<string, ConnQueue>([["ab".repeat(12), { mode: "get", delivered: new Uint8Array(24) }]]));
    for (let n = 1; n < b.length; n++) expect(() => unpackEntries(b.subarray(0, n)), `${n} bytes`).toThrow(RangeError);
    const bad = b.slice();
    bad[12] = 0x58;
    expect(() => unpackEntries(bad)).toThrow(RangeError);
    expect(() => packEntries(new Map([["not hex", { mode: "sub", gen: 1 }]]))).toThrow(RangeError);
  });
});
