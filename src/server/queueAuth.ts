// Which keys a command on a queue must verify against (WIRE.md 5.3, 6.4-6.6, 6.13a; upstream
// verifyTransmission: verifiedWithKeys, verifySecure/allowedKey). None means "none can": the
// caller then verifies against a throwaway key, so the work is the same (auth.ts).
import { equalBytes } from "../protocol/encoding.js";
import { decodePublicKey, type PublicKey } from "../crypto/keys.js";
import type { QueueCommand } from "./queue.js";
import { recipientKeys } from "./queueLinks.js";
import type { QueueRecord } from "./queueStore.js";

function keys(k: PublicKey | null): PublicKey[] {
  return k === null ? [] : [k];
}

/** The keys `cmd` must verify against on queue `q`; an empty list when no key can authorize it. */
export function verificationKeys(q: QueueRecord, cmd: QueueCommand): PublicKey[] {
  switch (cmd.tag) {
    case "SEND":
      // Unsecured queues take only unsigned SENDs (handled by the caller).
      return q.snd_key === null ? [] : keys(decodePublicKey(q.snd_key));
    case "SKEY":
    case "LKEY":
      // The sender proves it holds the key it sets; messaging queues only, and only the key
      // already set, if any.
      return q.mode === "M" && (q.snd_key === null || equalBytes(q.snd_key, cmd.senderKey)) ? keys(decodePublicKey(cmd.senderKey)) : [];
    default:
      return recipientKeys(q);
  }
}
