// The server-side work of a handshake and of a block, as a list of operations that both the
// Node microbenchmarks (micro.ts) and the bench Worker in workerd (workerd/worker.ts) run.
// Only pure code and WebCrypto: no Node or Workers APIs.
import { BLOCK_SIZE, pad, unpad } from "../src/protocol/padding.js";
import { decodeBatch, encodeBatch, packBatches } from "../src/protocol/batch.js";
import { decodeCommand, encodeCommand, encodeResponse } from "../src/protocol/commands.js";
import { concatBytes } from "../src/protocol/encoding.js";
import { decodeClientHello, encodeClientHello, encodeServerHello, SMP_VERSION } from "../src/protocol/hello.js";
import { decodeClientTransmission, encodeClientTransmission, encodeServerTransmission, encodeSigned } from "../src/protocol/transmission.js";
import { chainInit, chainStep, decryptBlock, encryptBlock } from "../src/crypto/blockCipher.js";
import { decodePublicKey, encodePublicKey } from "../src/crypto/keys.js";
import { randomBytes } from "../src/crypto/random.js";
import { bs } from "../src/crypto/bufferSource.js";
import { boxKey, sealWithBoxKey } from "../src/crypto/secretbox.js";
import { sign } from "../src/crypto/signing.js";
import { generateX25519, x25519 } from "../src/crypto/x25519.js";
import { generateIdentity, serverHelloFor } from "../src/server/identity.js";

export interface Op {
  name: string;
  /** Indented sub-steps are parts of the figure above them. */
  depth: number;
  /** Headline figures get the full time budget, breakdown steps a third of it. */
  headline: boolean;
  run: () => unknown;
}

export const HANDSHAKE_OP = "handshake (relay side, total)";
export const BLOCK_OP = "block round trip (decrypt + encrypt 16 KiB)";

// PKCS#8 prefixes, as src/crypto/signing.ts and x25519.ts build them.
const ED25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const X25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

export async function makeOps(): Promise<Op[]> {
  const { identity } = await generateIdentity("127.0.0.1:5223");
  const challenge = randomBytes(32);
  const client = await generateX25519();
  const clientHelloFrame = pad(
    encodeClientHello({
      version: SMP_VERSION,
      keyHash: identity.keyHash,
      clientKey: encodePublicKey({ alg: "x25519", raw: client.publicKey }),
      proxyServer: false,
      clientService: null,
    }),
    BLOCK_SIZE,
  );

  // Fixed inputs for the breakdown steps.
  const session = await generateX25519();
  const sessionId = randomBytes(32);
  const hello = await serverHelloFor(identity, { sessionId, sessionPublicKey: session.publicKey, challenge });
  const dh = await x25519(session.privateKey, client.publicKey);
  const subtle = crypto.subtle;
  const edPkcs8 = bs(concatBytes(ED25519_PKCS8, identity.onlineKey.seed));
  const edKey = await subtle.importKey("pkcs8", edPkcs8, { name: "Ed25519" }, false, ["sign"]);
  const xPkcs8 = bs(concatBytes(X25519_PKCS8, session.privateKey));
  const xPriv = await subtle.importKey("pkcs8", xPkcs8, { name: "X25519" }, false, ["deriveBits"]);
  const xPub = await subtle.importKey("raw", bs(client.publicKey), { name: "X25519" }, false, []);
  const spki = bs(encodePublicKey({ alg: "x25519", raw: session.publicKey }));

  // What the relay does from accepting a socket to having its block chains (session.ts).
  const handshake = async (): Promise<void> => {
    const sid = randomBytes(32);
    const s = await generateX25519();
    const h = await serverHelloFor(identity, { sessionId: sid, sessionPublicKey: s.publicKey, challenge });
    pad(encodeServerHello(h), BLOCK_SIZE);
    const ch = decodeClientHello(unpad(clientHelloFrame));
    const key = decodePublicKey(ch.clientKey as Uint8Array);
    if (key === null) throw new Error("bad client key");
    chainInit(sid, await x25519(s.privateKey, key.raw));
  };

  // Blocks as the client sends them: one PING, and 100 PINGs in one block.
  const chains = chainInit(sessionId, dh);
  const ping = (): Uint8Array =>
    encodeClientTransmission(new Uint8Array(0), encodeSigned(randomBytes(24), new Uint8Array(0), encodeCommand({ tag: "PING" })));
  const onePing = encryptBlock(chains.b, encodeBatch([ping()])).block;
  const hundredPings = encryptBlock(chains.b, encodeBatch(Array.from({ length: 100 }, ping))).block;
  const pongContent = encodeBatch([new Uint8Array(64)]);

  const blockRoundTrip = (): void => {
    const r = decryptBlock(chains.b, onePing);
    if (r.content === null) throw new Error("block did not open");
    encryptBlock(chains.a, pongContent);
  };

  // What SessionDO.onBlock and sendTransmissions do for a block of PINGs, at the protocol layer
  // (src/server/dispatch.ts needs the Workers runtime, so its checks are not included: they are
  // a few comparisons per transmission).
  const PONG = encodeResponse({ tag: "PONG" });
  const serveBlock = (frame: Uint8Array): void => {
    const { content } = decryptBlock(chains.b, frame);
    if (content === null) throw new Error("block did not open");
    const replies = decodeBatch(content).map((raw) => {
      const t = decodeClientTransmission(raw);
      if (decodeCommand(t.command).tag !== "PING") throw new Error("not a PING");
      return encodeServerTransmission({ corrId: t.corrId, entityId: t.entityId, command: PONG });
    });
    for (const batch of packBatches(replies)) encryptBlock(chains.a, encodeBatch(batch));
  };

  const padded = pad(pongContent, BLOCK_SIZE - 16);
  const key = randomBytes(32);
  const nonce = randomBytes(24);

  const op = (name: string, depth: number, run: () => unknown): Op => ({ name, depth, headline: depth === 0, run });
  return [
    op(HANDSHAKE_OP, 0, handshake),
    op("generateX25519 (generate + export raw, pkcs8)", 1, () => generateX25519()),
    op("serverHelloFor (2 Ed25519 signatures)", 1, () => serverHelloFor(identity, { sessionId, sessionPublicKey: session.publicKey, challenge })),
    op("sign() = import PKCS#8 + Ed25519 sign", 2, () => sign(identity.onlineKey, spki)),
    op("importKey Ed25519 PKCS#8", 3, () => subtle.importKey("pkcs8", edPkcs8, { name: "Ed25519" }, false, ["sign"])),
    op("Ed25519 sign, key imported", 3, () => subtle.sign({ name: "Ed25519" }, edKey, spki)),
    op("encodeServerHello + pad", 1, () => pad(encodeServerHello(hello), BLOCK_SIZE)),
    op("decodeClientHello", 1, () => decodeClientHello(unpad(clientHelloFrame))),
    op("x25519() = 2 imports + deriveBits", 1, () => x25519(session.privateKey, client.publicKey)),
    op("importKey X25519 PKCS#8", 2, () => subtle.importKey("pkcs8", xPkcs8, { name: "X25519" }, false, ["deriveBits"])),
    op("deriveBits X25519, keys imported", 2, () =>
      subtle.deriveBits({ name: "X25519", public: xPub } as unknown as Parameters<typeof subtle.deriveBits>[0], xPriv, 256),
    ),
    op("chainInit (HKDF-SHA512)", 1, () => chainInit(sessionId, dh)),
    op(BLOCK_OP, 0, blockRoundTrip),
    op("decryptBlock", 1, () => decryptBlock(chains.b, onePing)),
    op("encryptBlock", 1, () => encryptBlock(chains.a, pongContent)),
    op("chainStep (HKDF-SHA512, 88 bytes)", 2, () => chainStep(chains.a)),
    op("boxKey (HSalsa20)", 2, () => boxKey(key)),
    op("XSalsa20-Poly1305 seal 16 KiB", 2, () => sealWithBoxKey(key, nonce, padded)),
    op("serve a block of 1 PING (decrypt, parse, encode, encrypt)", 0, () => serveBlock(onePing)),
    op("serve a block of 100 PINGs", 0, () => serveBlock(hundredPings)),
  ];
}
