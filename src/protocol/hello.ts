// Handshake blocks: the server hello (first block from the relay) and the client hello (first
// block from the client). Both travel padded to 16384 bytes and unencrypted.
import { Decoder, Encoder } from "./encoding.js";

/** The only SMP version this relay speaks (the web profile). */
export const SMP_VERSION = 19;

export interface ServerHello {
  minVersion: number;
  maxVersion: number;
  sessionId: Uint8Array;
  /** [online (leaf) certificate, CA certificate], DER. */
  certChain: Uint8Array[];
  /** X.509-style signed X25519 session key, DER. */
  signedKey: Uint8Array;
  /** Signature over challenge ‖ sessionId; omitted (null) when the client sent no valid challenge. */
  identityProof: Uint8Array | null;
}

export interface ClientHello {
  version: number;
  keyHash: Uint8Array;
  /** 44-byte DER X25519 key; null only for pre-v7 clients, which this relay refuses. */
  clientKey: Uint8Array | null;
  proxyServer: boolean;
  clientService: Uint8Array | null;
}

export function encodeServerHello(h: ServerHello): Uint8Array {
  const e = new Encoder(1024).word16(h.minVersion).word16(h.maxVersion).shortBytes(h.sessionId);
  if (h.certChain.length < 1 || h.certChain.length > 255) throw new RangeError("certificate chain of 1 to 255 certificates");
  e.byte(h.certChain.length);
  for (const c of h.certChain) e.large(c);
  e.large(h.signedKey);
  // Never an empty proof: smp-web treats a present-but-empty proof as a failed verification.
  if (h.identityProof !== null) {
    if (h.identityProof.length === 0) throw new RangeError("empty identity proof");
    e.shortBytes(h.identityProof);
  }
  return e.bytes();
}

/** Reads a server hello the way smp-web does: optional fields only when the version has them. */
export function decodeServerHello(b: Uint8Array): ServerHello {
  const d = new Decoder(b);
  const minVersion = d.word16();
  const maxVersion = d.word16();
  const sessionId = d.shortBytes();
  let certChain: Uint8Array[] = [];
  let signedKey: Uint8Array = new Uint8Array(0);
  let identityProof: Uint8Array | null = null;
  if (maxVersion >= 7 && d.remaining > 0) {
    certChain = d.list((x) => x.large(), true);
    signedKey = d.large();
  }
  if (maxVersion >= 19 && d.remaining > 0) identityProof = d.shortBytes();
  return { minVersion, maxVersion, sessionId, certChain, signedKey, identityProof };
}

export function encodeClientHello(h: ClientHello): Uint8Array {
  const e = new Encoder(96).word16(h.version).shortBytes(h.keyHash);
  if (h.clientKey !== null) e.shortBytes(h.clientKey);
  if (h.version >= 14) e.bool(h.proxyServer);
  if (h.version >= 16) e.maybe(h.clientService, (x, v) => x.raw(v));
  return e.bytes();
}

/** Parses a client hello; trailing bytes are ignored, as upstream does. */
export function decodeClientHello(b: Uint8Array): ClientHello {
  const d = new Decoder(b);
  const version = d.word16();
  const keyHash = d.shortBytes();
  const clientKey = d.remaining > 0 ? d.shortBytes() : null;
  const proxyServer = version >= 14 && d.remaining > 0 ? d.bool() : false;
  // clientService (services only) carries a certificate and a key; a web relay refuses it, so its
  // body is not parsed: only its presence matters.
  let clientService: Uint8Array | null = null;
  if (version >= 16 && d.remaining > 0) clientService = d.maybe((x) => x.tail());
  return { version, keyHash, clientKey, proxyServer, clientService };
}
