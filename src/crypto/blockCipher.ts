// Block encryption after the handshake: two HKDF chains (one per direction) derived from the
// connection's X25519 secret; each 16384-byte block consumes one step of its direction's chain.
// All synchronous: stepping a chain and sealing/opening its block happen in one uninterrupted run.
import { asciiBytes } from "../protocol/encoding.js";
import { ENCRYPTED_BLOCK_PAD, pad, unpad } from "../protocol/padding.js";
import { hkdfSha512 } from "./hkdf.js";
import { boxKey, openWithBoxKey, sealWithBoxKey } from "./secretbox.js";

const INIT_INFO = asciiBytes("SimpleXSbChainInit");
const STEP_INFO = asciiBytes("SimpleXSbChain");
const EMPTY = new Uint8Array(0);

/** The two chain keys. The relay sends with `a` and receives with `b`; the client the reverse. */
export interface ChainKeys {
  a: Uint8Array;
  b: Uint8Array;
}

export function chainInit(sessionId: Uint8Array, dhSecret: Uint8Array): ChainKeys {
  const out = hkdfSha512(sessionId, dhSecret, INIT_INFO, 64);
  return { a: out.slice(0, 32), b: out.slice(32, 64) };
}

export interface ChainStep {
  next: Uint8Array;
  key: Uint8Array;
  nonce: Uint8Array;
}

export function chainStep(chainKey: Uint8Array): ChainStep {
  const out = hkdfSha512(EMPTY, chainKey, STEP_INFO, 88);
  return { next: out.slice(0, 32), key: out.slice(32, 64), nonce: out.slice(64, 88) };
}

/** Pads the batch content to 16368 bytes and seals it into a 16384-byte block. */
export function encryptBlock(chainKey: Uint8Array, content: Uint8Array): { block: Uint8Array; next: Uint8Array } {
  const padded = pad(content, ENCRYPTED_BLOCK_PAD);
  const s = chainStep(chainKey);
  const key = boxKey(s.key);
  s.key.fill(0);
  try {
    return { block: sealWithBoxKey(key, s.nonce, padded), next: s.next };
  } finally {
    key.fill(0);
  }
}

/**
 * Opens a block and returns its unpadded content, or null when the tag does not verify or the
 * padding is malformed. The chain advances either way: the peer consumed its step.
 */
export function decryptBlock(chainKey: Uint8Array, block: Uint8Array): { content: Uint8Array | null; next: Uint8Array } {
  const s = chainStep(chainKey);
  const key = boxKey(s.key);
  s.key.fill(0);
  const padded = openWithBoxKey(key, s.nonce, block);
  key.fill(0);
  if (padded === null) return { content: null, next: s.next };
  try {
    return { content: unpad(padded), next: s.next };
  } catch {
    return { content: null, next: s.next };
  }
}
