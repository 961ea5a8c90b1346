/** WebCrypto's DOM typings want ArrayBuffer-backed views; our bytes never live in a SharedArrayBuffer. */
export function bs(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}
