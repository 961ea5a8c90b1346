// The HKDF-SHA512 behind the block chain can be swapped for a native one (node:crypto's hkdfSync
// in the Worker), but only after it agrees with @noble/hashes; a backend that disagrees or throws
// is refused and noble stays.
import { hkdfSync } from "node:crypto";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { afterEach, describe, expect, it } from "vitest";
import { fromNodeHkdf, hkdfSha512, useNativeHkdf, useNobleHkdf, type HkdfSha512 } from "../../src/crypto/hkdf.js";
import { chainStep } from "../../src/crypto/blockCipher.js";
import { randomBytes } from "../../src/crypto/random.js";
import { useNodeCrypto } from "../../src/client/nodeCrypto.js";

const nodeHkdf: HkdfSha512 = fromNodeHkdf(hkdfSync);
const info = new TextEncoder().encode("SimpleXSbChain");

afterEach(() => useNobleHkdf());

describe("HKDF-SHA512 backend", () => {
  it("takes node:crypto's hkdfSync, and then gives what noble gives for random inputs", () => {
    expect(useNativeHkdf(nodeHkdf)).toBe(true);
    for (let i = 0; i < 50; i++) {
      const salt = randomBytes(i % 3 === 0 ? 0 : 32);
      const ikm = randomBytes(32);
      const length = [32, 64, 88][i % 3]!;
      expect(hkdfSha512(salt, ikm, info, length)).toEqual(hkdf(sha512, ikm, salt, info, length));
    }
  });

  it("the client's useNodeCrypto installs it", () => {
    expect(useNodeCrypto()).toBe(true);
    const ikm = randomBytes(32);
    expect(hkdfSha512(new Uint8Array(0), ikm, info, 88)).toEqual(hkdf(sha512, ikm, new Uint8Array(0), info, 88));
  });

  it("a chain step is the same through either backend", () => {
    const key = randomBytes(32);
    const viaNoble = chainStep(key);
    useNativeHkdf(nodeHkdf);
    expect(chainStep(key)).toEqual(viaNoble);
  });

  it("refuses a backend that disagrees with noble, and keeps noble", () => {
    let calls = 0;
    const wrong: HkdfSha512 = (salt, ikm, inf, length) => {
      calls++;
      const out = nodeHkdf(salt, ikm, inf, length);
      out[length - 1]! ^= 1;
      return out;
    };
    expect(useNativeHkdf(wrong)).toBe(false);
    const before = calls;
    const ikm = randomBytes(32);
    expect(hkdfSha512(new Uint8Array(0), ikm, info, 88)).toEqual(hkdf(sha512, ikm, new Uint8Array(0), info, 88));
    expect(calls).toBe(before);
  });

  it("refuses a backend that throws, and one right only for empty salts", () => {
    expect(
      useNativeHkdf(() => {
        throw new Error("no hkdf here");
      }),
    ).toBe(false);
    const emptySaltOnly: HkdfSha512 = (_salt, ikm, inf, length) => nodeHkdf(new Uint8Array(0), ikm, inf, length);
    expect(useNativeHkdf(emptySaltOnly)).toBe(false);
  });
});
