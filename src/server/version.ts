/** Relay software version, reported by /health and the operator page. */
export const RELAY_VERSION = "0.1.0";

/** Where the source is (package.json's repository), linked from the operator page. */
export const SOURCE_URL = "https://github.com/smp-edge/smp-relay";
