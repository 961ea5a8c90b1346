// The one node:crypto function the Worker uses (nodejs_compat); the Worker's types do not
// include Node's.
declare module "node:crypto" {
  export function hkdfSync(digest: "sha512", ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, keylen: number): ArrayBuffer;
}
