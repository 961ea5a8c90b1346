// SHA-256 and SHA-512 through WebCrypto (native in workerd, Node and browsers).
import { bs } from "./bufferSource.js";

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bs(data)));
}

export async function sha512(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-512", bs(data)));
}
