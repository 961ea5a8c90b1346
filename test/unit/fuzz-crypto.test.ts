// Property-based tests of the decoders in the crypto layer and of queue ids: the DER reader (and
// writer), certificates, public keys, the signed session key, block decryption, cryptoBox and
// sealed queue ids. Random bytes and mutations of valid encodings give a value, ParseError or the
// documented null; never another exception.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { decryptBlock, chainInit, chainStep, encryptBlock } from "../../src/crypto/blockCipher.js";
import * as der from "../../src/crypto/der.js";
import { decodePublicKey, encodePublicKey, type KeyAlgorithm, type PublicKey } from "../../src/crypto/keys.js";
import { boxKey, cryptoBox, cryptoBoxOpen, sealWithBoxKey } from "../../src/crypto/secretbox.js";
import { decodeSignedSessionKey, encodeSignedSessionKey } from "../../src/crypto/signedKey.js";
import { generateSigningKey, publicKeyOf, type SigningKey } from "../../src/crypto/signing.js";
import {
  certificatePublicKey,
  certificateSpki,
  createCaCertificate,
  createOnlineCertificate,
  verifyCertificateSignature,
} from "../../src/crypto/x509.js";
import { MAX_BATCH_CONTENT } from "../../src/protocol/batch.js";
import { equalBytes, ParseError } from "../../src/protocol/encoding.js";
import { BLOCK_SIZE, ENCRYPTED_BLOCK_PAD } from "../../src/protocol/padding.js";
import { QUEUE_ID_SIZE, QueueIdCodec } from "../../src/server/queueIds.js";
import { bitFlips, check, checkAsync, concat, hexify, hostile, mutated, total, truncations, typed, typedAsync } from "./fuzz-helpers.js";

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });

// ---- DER ----

type Node = { tag: number; value: Uint8Array } | { tag: number; children: Node[] };

/** Low tag numbers only (the reader refuses 0x1f); bit 0x20 decides primitive or constructed. */
const lowTag = (constructed: boolean): fc.Arbitrary<number> =>
  fc.nat(255).map((t) => {
    let v = constructed ? t | 0x20 : t & ~0x20;
    if ((v & 0x1f) === 0x1f) v ^= 1;
    return v;
  });

const { node: derTree } = fc.letrec<{ node: Node; prim: Node; cons: Node }>((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("prim"), tie("cons")),
  prim: fc.record({
    tag: lowTag(false),
    // Lengths below 128 (short form) and above (0x81 and 0x82 long forms).
    value: fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ minLength: 120, maxLength: 400 })),
  }),
  cons: fc.record({ tag: lowTag(true), children: fc.array(tie("node"), { maxLength: 4 }) }),
}));

function writeNode(n: Node): Uint8Array {
  return "value" in n ? der.tlv(n.tag, n.value) : der.tlv(n.tag, concat(...n.children.map(writeNode)));
}

function readNode(t: der.Tlv): Node {
  return t.tag & 0x20 ? { tag: t.tag, children: der.children(t).map(readNode) } : { tag: t.tag, value: t.value };
}

/** Walks everything the reader exposes over `buf`; only ParseError may come out. */
function walkDer(buf: Uint8Array): void {
  for (let pos = 0; pos <= buf.length + 1; pos += 1 + (pos >> 2)) {
    const t = typed(() => der.readTlv(buf, pos), ParseError);
    if (t !== undefined) {
      expect(t.der.length).toBeGreaterThanOrEqual(2 + t.value.length);
      expect(t.der.byteOffset - buf.byteOffset).toBe(pos);
      expect(pos + t.der.length).toBeLessThanOrEqual(buf.length);
    }
  }
  const top = typed(() => der.readSingle(buf), ParseError);
  if (top === undefined) return;
  const visit = (t: der.Tlv, depth: number): void => {
    typed(() => der.expectTag(t, der.TAG.SEQUENCE), ParseError);
    typed(() => der.bitStringBytes(t), ParseError);
    typed(() => der.oidString({ ...t, tag: der.TAG.OID }), ParseError);
    if (depth > 40) return;
    const kids = typed(() => der.children(t), ParseError);
    for (const k of kids ?? []) visit(k, depth + 1);
  };
  visit(top, 0);
}

const oidArcs = fc
  .tuple(fc.nat(2), fc.nat(39), fc.nat(2 ** 40), fc.array(fc.oneof(fc.nat(200), fc.maxSafeNat()), { maxLength: 6 }))
  .map(([a, b, big, rest]) => [a, a < 2 ? b : big, ...rest]);

describe("DER", () => {
  it("the reader gives back any tree the writer wrote", () => {
    check(
      fc.property(derTree, (n) => {
        expect(hexify(readNode(der.readSingle(writeNode(n))))).toEqual(hexify(n));
      }),
      400,
    );
    // A length that needs three bytes (0x83).
    const big = new Uint8Array(70_000).fill(5);
    const t = der.readSingle(der.octetString(big), der.TAG.OCTET_STRING);
    expect(t.der.subarray(0, 5)).toEqual(Uint8Array.of(0x04, 0x83, 0x01, 0x11, 0x70));
    expect(equalBytes(t.value, big)).toBe(true);
  });

  it("oid and oidString round-trip; integer keeps the magnitude, positive and minimal", () => {
    check(
      fc.property(oidArcs, (arcs) => {
        expect(der.oidString(der.readSingle(der.oid(arcs.join("."))))).toBe(arcs.join("."));
      }),
      400,
    );
    check(
      fc.property(fc.uint8Array({ maxLength: 40 }), (m) => {
        const v = der.readSingle(der.integer(m), der.TAG.INTEGER).value;
        const big = (b: Uint8Array): bigint => b.reduce((n, x) => (n << 8n) | BigInt(x), 0n);
        expect(big(v)).toBe(big(m));
        expect((v[0] as number) & 0x80).toBe(0);
        if (v.length > 1) expect(v[0] === 0 && ((v[1] as number) & 0x80) === 0).toBe(false);
      }),
      400,
    );
    check(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(der.bitStringBytes(der.readSingle(der.bitString(b)))).toEqual(b);
      }),
      100,
    );
  });

  it("random bytes and mutated DER: readTlv, readSingle, children, expectTag, bitStringBytes and oidString give a value or ParseError", () => {
    check(fc.property(hostile(derTree.map(writeNode), 300), walkDer), 1500);
  });

  it("every truncation and bit flip of a small DER tree gives a value or ParseError", () => {
    check(
      fc.property(derTree.map(writeNode).filter((b) => b.length <= 80), (b) => {
        for (const t of truncations(b)) walkDer(t);
        for (const f of bitFlips(b)) walkDer(f);
      }),
      30,
    );
  });
});

// ---- certificates, keys, signed session keys ----

interface Chain {
  caKey: SigningKey;
  onlineKey: SigningKey;
  caPub: PublicKey;
  onlinePub: PublicKey;
  caCert: Uint8Array;
  onlineCert: Uint8Array;
}

const chains: Chain[] = [];

beforeAll(async () => {
  for (const alg of ["ed25519", "ed448"] as const) {
    const caKey = await generateSigningKey(alg);
    const onlineKey = await generateSigningKey(alg);
    const caPub = await publicKeyOf(caKey);
    const onlinePub = await publicKeyOf(onlineKey);
    const caCert = await createCaCertificate(caKey);
    const onlineCert = await createOnlineCertificate(caKey, caCert, onlinePub, "relay.example");
    chains.push({ caKey, onlineKey, caPub, onlinePub, caCert, onlineCert });
  }
});

const chain = fc.nat(1).map((i) => chains[i]!);
const certificate = fc.tuple(chain, fc.boolean()).map(([c, ca]) => (ca ? c.caCert : c.onlineCert));

describe("certificates", () => {
  it("certificateSpki and certificatePublicKey read the key the certificate was made for", () => {
    for (const c of chains) {
      expect(certificatePublicKey(c.caCert)).toEqual(c.caPub);
      expect(certificatePublicKey(c.onlineCert)).toEqual(c.onlinePub);
      expect(certificateSpki(c.onlineCert)).toEqual(encodePublicKey(c.onlinePub));
    }
  });

  it("random bytes and mutated certificates give a key or ParseError", () => {
    check(
      fc.property(hostile(certificate, 400), (b) => {
        const spki = typed(() => certificateSpki(b), ParseError);
        const k = typed(() => certificatePublicKey(b), ParseError);
        if (k !== undefined) {
          expect(["ed25519", "ed448"]).toContain(k.alg);
          expect(spki).toEqual(encodePublicKey(k));
        }
      }),
      1500,
    );
  });

  it("every truncation of a certificate gives ParseError or a key; every bit flip in it a key or ParseError", () => {
    for (const c of chains) {
      for (const t of truncations(c.onlineCert)) typed(() => certificatePublicKey(t), ParseError);
      for (const f of bitFlips(c.onlineCert)) typed(() => certificatePublicKey(f), ParseError);
    }
  });

  it("verifyCertificateSignature of mutated certificates is a boolean, never an exception", async () => {
    for (const c of chains) expect(await verifyCertificateSignature(c.onlineCert, c.caPub)).toBe(true);
    await checkAsync(
      fc.asyncProperty(chain, mutated(certificate), async (c, b) => {
        const ok = await typedAsync(() => verifyCertificateSignature(b, c.caPub));
        expect(typeof ok).toBe("boolean");
      }),
      150,
    );
  });
});

const ALGS: KeyAlgorithm[] = ["x25519", "ed25519", "ed448"];
const publicKey: fc.Arbitrary<PublicKey> = fc
  .constantFrom(...ALGS)
  .chain((alg) => bytes(alg === "ed448" ? 57 : 32).map((raw) => ({ alg, raw })));

describe("public keys", () => {
  it("decodePublicKey(encodePublicKey(k)) is k for the three algorithms", () => {
    check(
      fc.property(publicKey, (k) => {
        expect(decodePublicKey(encodePublicKey(k))).toEqual(k);
      }),
      300,
    );
  });

  it("random bytes and mutated keys give a key whose encoding is the input, or null; never an exception", () => {
    check(
      fc.property(hostile(publicKey.map(encodePublicKey), 80), (b) => {
        const k = total(() => decodePublicKey(b));
        if (k !== null) expect(encodePublicKey(k)).toEqual(b);
      }),
      2000,
    );
  });
});

describe("signed session keys", () => {
  const x25519Raw = bytes(32);

  it("decodeSignedSessionKey gives back the key the leaf signed", async () => {
    await checkAsync(
      fc.asyncProperty(chain, x25519Raw, async (c, raw) => {
        const signed = await encodeSignedSessionKey(c.onlineKey, raw);
        expect(await decodeSignedSessionKey(signed, c.onlinePub)).toEqual(raw);
        // Another key (the CA's) does not verify it.
        expect(await decodeSignedSessionKey(signed, c.caPub)).toBeNull();
      }),
      40,
    );
  });

  it("random bytes and mutated signed keys give null or the signed key, never an exception", async () => {
    const cases: { c: Chain; raw: Uint8Array; signed: Uint8Array }[] = [];
    for (const c of chains) {
      for (const fill of [0, 0x42, 0xff]) {
        const raw = new Uint8Array(32).fill(fill);
        cases.push({ c, raw, signed: await encodeSignedSessionKey(c.onlineKey, raw) });
      }
    }
    const input = fc.nat(cases.length - 1).chain((i) => {
      const k = cases[i]!;
      return fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(fc.constant(k.signed))).map((b) => ({ k, b }));
    });
    await checkAsync(
      fc.asyncProperty(input, async ({ k, b }) => {
        const r = await typedAsync(() => decodeSignedSessionKey(b, k.c.onlinePub));
        // The signature covers the key, so a mutation cannot make another key verify.
        if (r !== null) expect(r).toEqual(k.raw);
      }),
      150,
    );
  });

  it("every truncation and bit flip of an Ed25519-signed key gives null or the key", async () => {
    const c = chains[0]!;
    const raw = new Uint8Array(32).fill(9);
    const signed = await encodeSignedSessionKey(c.onlineKey, raw);
    for (const t of truncations(signed)) expect(await decodeSignedSessionKey(t, c.onlinePub)).toBeNull();
    for (const f of bitFlips(signed)) {
      const r = await typedAsync(() => decodeSignedSessionKey(f, c.onlinePub));
      if (r !== null) expect(r).toEqual(raw);
    }
  });
});

// ---- block encryption, cryptoBox ----

describe("decryptBlock", () => {
  const chainKey = bytes(32);

  it("decrypts what encryptBlock sealed, for any content that fits a block", () => {
    check(
      fc.property(
        bytes(32),
        bytes(32),
        fc.oneof(fc.uint8Array({ maxLength: 500 }), fc.uint8Array({ minLength: MAX_BATCH_CONTENT - 10, maxLength: MAX_BATCH_CONTENT })),
        (sessionId, secret, content) => {
          const keys = chainInit(sessionId, secret);
          const { block, next } = encryptBlock(keys.a, content);
          expect(block.length).toBe(BLOCK_SIZE);
          const r = decryptBlock(keys.a, block);
          expect(r.next).toEqual(next);
          expect(r.content !== null && equalBytes(r.content, content)).toBe(true);
          // The other direction's chain does not open it.
          expect(decryptBlock(keys.b, block).content).toBeNull();
        },
      ),
      60,
    );
  });

  it("any 16384 random bytes give null, never an exception, and the chain still advances", () => {
    check(
      fc.property(chainKey, bytes(BLOCK_SIZE), (k, block) => {
        const r = total(() => decryptBlock(k, block));
        expect(r.content).toBeNull();
        expect(r.next).toEqual(chainStep(k).next);
      }),
      60,
    );
  });

  it("blocks of any other size, and a valid block with any bit flipped, truncated or extended, give null", () => {
    check(
      fc.property(chainKey, fc.uint8Array({ maxLength: 300 }), fc.nat(BLOCK_SIZE * 8 - 1), fc.nat(BLOCK_SIZE - 1), (k, content, bit, cut) => {
        const { block } = encryptBlock(k, content);
        const flipped = block.slice();
        flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(total(() => decryptBlock(k, flipped)).content).toBeNull();
        expect(total(() => decryptBlock(k, block.subarray(0, cut))).content).toBeNull();
        expect(total(() => decryptBlock(k, concat(block, Uint8Array.of(bit & 0xff)))).content).toBeNull();
      }),
      60,
    );
  });

  it("a block that authenticates but holds any padded plaintext gives its content or null, never an exception", () => {
    // What a peer holding the chain key could send: a valid tag over a bad length prefix.
    check(
      fc.property(chainKey, fc.nat(0xffff), fc.uint8Array({ maxLength: 64 }), (k, len, start) => {
        const s = chainStep(k);
        const padded = new Uint8Array(ENCRYPTED_BLOCK_PAD).fill(0x23);
        padded.set(start.subarray(0, 64), 2);
        padded[0] = len >> 8;
        padded[1] = len & 0xff;
        const block = sealWithBoxKey(boxKey(s.key), s.nonce, padded);
        const r = total(() => decryptBlock(k, block));
        if (len <= ENCRYPTED_BLOCK_PAD - 2) expect(r.content?.length).toBe(len);
        else expect(r.content).toBeNull();
      }),
      60,
    );
  });
});

describe("cryptoBoxOpen", () => {
  it("opens what cryptoBox sealed; random or mutated boxes, and nonces of another length, give null", () => {
    check(
      fc.property(bytes(32), bytes(24), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 340 }), (secret, nonce, msg, random) => {
        const boxed = cryptoBox(secret, nonce, msg);
        expect(cryptoBoxOpen(secret, nonce, boxed)).toEqual(msg);
        expect(total(() => cryptoBoxOpen(secret, nonce, random))).toBeNull();
      }),
      300,
    );
    check(
      fc.property(bytes(32), bytes(24), fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 40 }), (secret, nonce, msg, otherNonce) => {
        const boxed = cryptoBox(secret, nonce, msg);
        for (const t of truncations(boxed)) expect(total(() => cryptoBoxOpen(secret, nonce, t))).toBeNull();
        for (const f of bitFlips(boxed.subarray(0, 40))) expect(total(() => cryptoBoxOpen(secret, nonce, concat(f, boxed.subarray(40))))).toBeNull();
        if (!equalBytes(otherNonce, nonce)) expect(total(() => cryptoBoxOpen(secret, otherNonce, boxed))).toBeNull();
      }),
      40,
    );
  });
});

// ---- queue ids ----

describe("QueueIdCodec", () => {
  const kind = fc.constantFrom("rcv" as const, "snd" as const);

  it("open(seal(q, kind)) is q and kind; newQueue's ids open to its queue", () => {
    check(
      fc.property(bytes(32), bytes(12), kind, (key, q, k) => {
        const codec = new QueueIdCodec(key);
        const id = codec.seal(q, k);
        expect(id.length).toBe(QUEUE_ID_SIZE);
        expect(codec.open(id)).toEqual({ queue: Buffer.from(q).toString("hex"), kind: k });
        const n = codec.newQueue();
        expect(codec.open(n.rcvId)).toEqual({ queue: n.queue, kind: "rcv" });
        expect(codec.open(n.sndId)).toEqual({ queue: n.queue, kind: "snd" });
      }),
      200,
    );
  });

  it("open never throws and gives null for random input of any length", () => {
    const codec = new QueueIdCodec(new Uint8Array(32).fill(1));
    check(
      fc.property(fc.oneof(bytes(QUEUE_ID_SIZE), fc.uint8Array({ maxLength: 64 })), (id) => {
        expect(total(() => codec.open(id))).toBeNull();
      }),
      2000,
    );
  });

  it("flipping any one of the 192 bits of a valid id, truncating or extending it, or another routing key, gives null", () => {
    check(
      fc.property(bytes(32), bytes(32), bytes(12), kind, fc.uint8Array({ minLength: 1, maxLength: 8 }), (key, otherKey, q, k, extra) => {
        const codec = new QueueIdCodec(key);
        const id = codec.seal(q, k);
        for (const f of bitFlips(id)) expect(codec.open(f)).toBeNull();
        for (const t of truncations(id)) expect(codec.open(t)).toBeNull();
        expect(codec.open(concat(id, extra))).toBeNull();
        if (!equalBytes(key, otherKey)) expect(new QueueIdCodec(otherKey).open(id)).toBeNull();
      }),
      60,
    );
  });
});

it("sanity: the fuzz suite's own helpers mutate", () => {
  const b = Uint8Array.of(1, 2, 3, 4);
  const samples = fc.sample(mutated(fc.constant(b)), { seed: 3, numRuns: 50 });
  expect(samples.some((s) => !equalBytes(s, b))).toBe(true);
});
