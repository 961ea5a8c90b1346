// Inside workerd: the relay runs its block chain on node:crypto's native HKDF (nodejs_compat),
// and that gives the same bytes as @noble/hashes.
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { hkdfSha512 } from "../../src/crypto/hkdf.js";
import { randomBytes } from "../../src/crypto/random.js";
import { nativeHkdf } from "../../src/server/nativeCrypto.js";

describe("native HKDF in workerd", () => {
  it("is installed, and agrees with noble", () => {
    expect(nativeHkdf).toBe(true);
    const info = new TextEncoder().encode("SimpleXSbChain");
    for (let i = 0; i < 20; i++) {
      const salt = randomBytes(i % 2 === 0 ? 0 : 32);
      const ikm = randomBytes(32);
      expect(hkdfSha512(salt, ikm, info, 88)).toEqual(hkdf(sha512, ikm, salt, info, 88));
    }
  });
});
