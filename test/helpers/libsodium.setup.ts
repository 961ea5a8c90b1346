// Setup file of the "node-libsodium" project (vitest.config.ts): the vector, interop and fuzz tests
// of the crypto layer run again with XSalsa20-Poly1305 on libsodium's WebAssembly instead of
// @noble/ciphers. A backend that fails to start or disagrees fails every test of the file.
import { beforeAll, expect } from "vitest";
import { useNodeLibsodium } from "../../src/client/nodeCrypto.js";
import { secretboxBackend } from "../../src/crypto/secretboxBackend.js";

beforeAll(async () => {
  expect(await useNodeLibsodium()).toBe(true);
  expect(secretboxBackend()).toBe("libsodium");
});
