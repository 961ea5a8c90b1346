// The Worker's native synchronous HKDF (node:crypto, with the nodejs_compat flag), installed
// once per isolate on import. See src/crypto/hkdf.ts for why HKDF must be synchronous.
import { hkdfSync } from "node:crypto";
import { fromNodeHkdf, useNativeHkdf } from "../crypto/hkdf.js";

export const nativeHkdf = useNativeHkdf(fromNodeHkdf(hkdfSync));
if (!nativeHkdf) console.warn("node:crypto hkdfSync disagrees with HKDF-SHA512: using @noble/hashes");
