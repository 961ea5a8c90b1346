/** Relay software version, reported by /health and the operator page. */
export const RELAY_VERSION = "0.1.0";
