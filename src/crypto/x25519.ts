// X25519 through WebCrypto. Private keys travel as raw 32 bytes (so they fit a socket attachment)
// and are imported as PKCS#8 when used.
import { concatBytes } from "../protocol/encoding.js";
import { bs } from "./bufferSource.js";

const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

export interface X25519KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export async function generateX25519(): Promise<X25519KeyPair> {
  const k = (await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as CryptoKeyPair;
  const pub = new Uint8Array((await crypto.subtle.exportKey("raw", k.publicKey)) as ArrayBuffer);
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", k.privateKey)) as ArrayBuffer);
  return { publicKey: pub, privateKey: pkcs8.slice(PKCS8_PREFIX.length) };
}

export function importX25519Private(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", bs(concatBytes(PKCS8_PREFIX, raw)), { name: "X25519" }, false, ["deriveBits"]);
}

/** Raw X25519 shared secret (not hashed). Throws on a low-order peer key. */
export async function x25519(privateKey: Uint8Array | CryptoKey, peerPublic: Uint8Array): Promise<Uint8Array> {
  const priv = privateKey instanceof Uint8Array ? await importX25519Private(privateKey) : privateKey;
  const pub = await crypto.subtle.importKey("raw", bs(peerPublic), { name: "X25519" }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pub } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0], priv, 256));
}
