// The relay for real-socket tests of its own behaviour: started through our harness
// (startLocalRelay's code, src/testing/, on the Worker bundled by workerBundle.setup.ts), so every
// run exercises it. Tests about wrangler itself (config checks, `npm run dev`, secrets from
// .dev.vars, a killed process) use startRelay (relay.ts) instead.
import { inject } from "vitest";
import { startBundledRelay, type LocalRelay, type RelayVars } from "../../src/testing/localRelay.js";
import { readWorkerBundle } from "../../src/testing/workerConfig.js";

export interface TestRelay extends LocalRelay {
  /** The Worker's console output so far, for diagnostics. */
  log(): string;
}

export interface LocalStartOptions {
  /** Settings, as startRelay's `--var`s. */
  vars?: RelayVars;
  /** Storage directory, kept after stop(); reuse one to restart the same relay. Default: memory. */
  persistTo?: string;
  /** Default: a free one. */
  port?: number;
}

export async function startLocalTestRelay(opts: LocalStartOptions = {}): Promise<TestRelay> {
  let out = "";
  const relay = await startBundledRelay(readWorkerBundle(inject("workerBundleDir")), {
    vars: opts.vars,
    persist: opts.persistTo,
    port: opts.port,
    onOutput: (s) => (out += s),
  });
  return { ...relay, log: () => out };
}
