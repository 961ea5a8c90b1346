// The bench's targets table and cipher_speedup (bench/targets.ts, bench/report.ts): a bound is
// "at most" or "at least", a figure the run did not measure is neither met nor missed, and
// cipher_speedup appears only when both backends' microbenchmarks ran in workerd.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cipherSpeedup } from "../../bench/report.js";
import { CIPHER_OPS } from "../../bench/workerd/cipher.js";
import { reportTargets, TARGETS } from "../../bench/targets.js";

describe("bench targets", () => {
  beforeEach(() => void vi.spyOn(console, "log").mockImplementation(() => {}));
  afterEach(() => vi.restoreAllMocks());

  it("judges at-most and at-least bounds on the JSON keys, and leaves missing figures open", () => {
    const { targets } = reportTargets({ relay_over_floor: 1.3, relay_throughput_over_floor: 0.8, handshake_rows_written: 1, resub_rows_written: 2 });
    expect(Object.keys(targets)).toEqual(Object.keys(TARGETS));
    expect(targets.relay_over_floor).toEqual({ value: 1.3, target: 1.25, bound: "at most", met: false });
    expect(targets.relay_throughput_over_floor).toEqual({ value: 0.8, target: 0.8, bound: "at least", met: true });
    expect(targets.handshake_rows_written).toMatchObject({ met: true });
    expect(targets.resub_rows_written).toMatchObject({ met: false });
    expect(targets.cipher_speedup).toEqual({ value: null, target: 1.8, bound: "at least", met: null });
  });

  it("cipher_speedup is @noble's workerd time over libsodium's, only when both were measured", () => {
    expect(cipherSpeedup(new Map())).toEqual({});
    expect(cipherSpeedup(new Map([[CIPHER_OPS.noble, 225]]))).toEqual({});
    expect(cipherSpeedup(new Map([[CIPHER_OPS.noble, 225], [CIPHER_OPS.libsodium, null]]))).toEqual({});
    expect(cipherSpeedup(new Map([[CIPHER_OPS.noble, 225], [CIPHER_OPS.libsodium, 110]]))).toEqual({ cipher_speedup: 2.0455 });
  });
});
