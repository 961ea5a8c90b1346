import { defineConfig } from "vitest/config";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";

// Two projects: "node" runs the vector suite, the libsodium cross-checks and the real-socket
// integration tests (the relay in workerd via wrangler, our client over `ws`); "workers" runs
// tests inside workerd itself, next to the Durable Objects.
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
