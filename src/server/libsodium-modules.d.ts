// Types of the two files scripts/libsodium.ts generates in src/server/generated/ (gitignored): the
// pattern declarations hold whether or not they have been generated yet.
declare module "*/generated/libsodium.mjs" {
  const factory: import("../crypto/sodium.js").SodiumFactory;
  export default factory;
}

declare module "*/generated/libsodium.wasm" {
  const wasm: WebAssembly.Module;
  export default wasm;
}
