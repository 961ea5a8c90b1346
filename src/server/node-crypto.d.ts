// The one node:crypto function the Worker uses (nodejs_compat); the Worker's types do not
// include Node's. Its shape is the one src/crypto/hkdf.ts takes.
declare module "node:crypto" {
  export const hkdfSync: import("../crypto/hkdf.js").NodeHkdfSync;
}
