import { defineConfig } from "vitest/config";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { generateLibsodium } from "./scripts/libsodium.js";

// The relay imports libsodium's wasm and loader from src/server/generated/ (scripts/libsodium.ts):
// made here too, so that `vitest` works in a clone where `npm ci` did not run prepare.
generateLibsodium();

/**
 * Every test of the crypto layer's vectors, interop and fuzzing that seals or opens a secretbox: run
 * by "node" on @noble/ciphers (the default backend) and again by "node-libsodium" on libsodium.
 */
const SECRETBOX_TESTS = [
  "test/unit/crypto.test.ts",
  "test/unit/block-encryption.test.ts",
  "test/unit/libsodium-interop.test.ts",
  "test/unit/fuzz-crypto.test.ts",
  "test/unit/fuzz-client-config.test.ts",
  "test/unit/client-queues.test.ts",
  "test/unit/server-responses.test.ts",
];

// Three projects: "node" runs the vector suite, the libsodium cross-checks and the real-socket
// integration tests (the relay in workerd via wrangler, our client over `ws`); "node-libsodium"
// runs SECRETBOX_TESTS once more with the secretbox on libsodium; "workers" runs tests inside
// workerd itself, next to the Durable Objects (where the relay starts libsodium itself).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"],
          environment: "node",
          // Bundles the Worker once for the tests that run it through the harness (startLocalRelay).
          globalSetup: ["test/helpers/workerBundle.setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "node-libsodium",
          include: SECRETBOX_TESTS,
          environment: "node",
          setupFiles: ["test/helpers/libsodium.setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.jsonc" } })],
        test: {
          name: "workers",
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
