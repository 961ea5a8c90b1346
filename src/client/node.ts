// `smp-relay/client/node`: Node-only additions to the client (they import node: modules).
export { useNodeCrypto, useNodeLibsodium } from "./nodeCrypto.js";
