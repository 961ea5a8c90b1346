// The `libsodium` package ships no types: its ESM entry's default export is the Emscripten factory.
declare module "libsodium" {
  const factory: import("../crypto/sodium.js").SodiumFactory;
  export default factory;
}
