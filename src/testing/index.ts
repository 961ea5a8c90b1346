// `smp-relay/testing`: a real relay inside another project's tests (startLocalRelay, Miniflare).
export { RELAY_VARS, startLocalRelay, type LocalRelay, type RelayVar, type RelayVars, type StartLocalRelayOptions } from "./localRelay.js";
