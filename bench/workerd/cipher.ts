// The 16 KB secretbox seal + open on each backend (issue 13), as operations of the microbenchmarks:
// micro.ts runs them in Node after ops.ts's, the bench Worker (worker.ts) in workerd, and the report
// divides @noble's time by libsodium's (cipher_speedup, bench/report.ts). Only pure code here, so
// both runtimes can import it; each passes its own started libsodium backend.
import { randomBytes } from "../../src/crypto/random.js";
import { nobleSecretbox, type SecretboxBackend } from "../../src/crypto/secretboxBackend.js";
import type { Op } from "../ops.js";

/** The operations' names, as bench/report.ts looks them up. */
export const CIPHER_OPS = { noble: "secretbox 16 KB seal+open (noble)", libsodium: "secretbox 16 KB seal+open (libsodium)" } as const;

/** A relay block's padded content: what each block and each message body seals. */
const CONTENT_BYTES = 16368;

/**
 * One seal and one open of 16368 bytes (a 16384-byte box) on @noble and on `libsodium`, same key,
 * nonce and content. Call inside a handler in workerd (random bytes). A run that does not open
 * what it sealed throws, so a broken backend cannot post a figure.
 */
export function cipherOps(libsodium: SecretboxBackend): Op[] {
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const content = randomBytes(CONTENT_BYTES);
  const op = (name: string, backend: SecretboxBackend): Op => ({
    name,
    depth: 0,
    headline: true,
    run: () => {
      if (backend.open(key, nonce, backend.seal(key, nonce, content)) === null) throw new Error(`${name}: does not open what it sealed`);
    },
  });
  return [op(CIPHER_OPS.noble, nobleSecretbox), op(CIPHER_OPS.libsodium, libsodium)];
}
