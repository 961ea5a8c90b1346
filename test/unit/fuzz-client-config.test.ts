// Property-based tests of the client's message and INFO decoders (src/client/queues.ts) and of the
// relay's configuration readers (readConfig, the identity secrets): random and mutated input gives
// a value or the module's typed error (MessageDecryptionError, QueueInfoError, ConfigError), never
// another exception.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { decryptMessage, MessageDecryptionError, parseQueueInfo, QueueInfoError, type QueueInfo } from "../../src/client/queues.js";
import { cryptoBox } from "../../src/crypto/secretbox.js";
import { base64, base64url } from "../../src/protocol/base64.js";
import { Encoder, equalBytes } from "../../src/protocol/encoding.js";
import { pad } from "../../src/protocol/padding.js";
import { ConfigError, DEFAULT_CONFIG, readConfig, type ConfigEnv } from "../../src/server/config.js";
import { generateIdentity, type RelayIdentity } from "../../src/server/identity.js";
import {
  decodeCertificateSecret,
  decodeSigningKeySecret,
  encodeSigningKeySecret,
  identityFromSecrets,
  identitySecretValues,
  type IdentitySecretsEnv,
} from "../../src/server/identitySecrets.js";
import { assertTyped, check, checkAsync, hexify, hostile, mutatedString, typed, typedAsync } from "./fuzz-helpers.js";

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });

// ---- delivered messages ----

/** The size smp-web pads a message body to before sealing it. */
const BODY_PAD = 16106;

type Plain = { quota: true; timestamp: number } | { quota?: false; timestamp: number; notify: boolean; body: Uint8Array };

const plain: fc.Arbitrary<Plain> = fc.oneof(
  fc.record({ quota: fc.constant(true as const), timestamp: fc.maxSafeInteger() }),
  fc.record({ timestamp: fc.maxSafeInteger(), notify: fc.boolean(), body: fc.uint8Array({ maxLength: 400 }) }),
);

function encodePlain(p: Plain): Uint8Array {
  if (p.quota) return new Encoder().ascii("QUOTA ").int64(BigInt(p.timestamp)).bytes();
  return new Encoder().int64(BigInt(p.timestamp)).ascii(p.notify ? "T " : "F ").raw(p.body).bytes();
}

describe("decryptMessage", () => {
  it("opens what was sealed: messages and quota markers", () => {
    check(
      fc.property(bytes(32), bytes(24), plain, (secret, msgId, p) => {
        const m = decryptMessage({ dhSecret: secret }, msgId, cryptoBox(secret, msgId, pad(encodePlain(p), BODY_PAD)));
        expect(hexify(m)).toEqual(hexify(p.quota ? { msgId, timestamp: p.timestamp, quota: true } : { msgId, ...p }));
      }),
      60,
    );
  });

  it("random bodies, any msgId length, and mutated sealed bodies give MessageDecryptionError", () => {
    check(
      fc.property(bytes(32), fc.oneof(bytes(24), fc.uint8Array({ maxLength: 40 })), fc.uint8Array({ maxLength: 600 }), (secret, msgId, body) => {
        expect(typed(() => decryptMessage({ dhSecret: secret }, msgId, body), MessageDecryptionError)).toBeUndefined();
      }),
      400,
    );
    const sealed = fc
      .tuple(bytes(32), bytes(24), fc.uint8Array({ maxLength: 100 }))
      .map(([secret, msgId, inner]) => ({ secret, msgId, boxed: cryptoBox(secret, msgId, pad(inner, 200)) }));
    check(
      fc.property(sealed, fc.nat(), fc.nat(7), ({ secret, msgId, boxed }, at, bit) => {
        const f = boxed.slice();
        f[at % f.length] = (f[at % f.length] as number) ^ (1 << bit);
        expect(typed(() => decryptMessage({ dhSecret: secret }, msgId, f), MessageDecryptionError)).toBeUndefined();
      }),
      200,
    );
  });

  it("a body that opens but holds any plaintext gives a message or MessageDecryptionError", () => {
    // What the sender (who knows the queue's DH secret) could seal: any padded bytes.
    const inner = fc.oneof(fc.uint8Array({ maxLength: 40 }), plain.map(encodePlain), hostile(plain.map(encodePlain), 40));
    check(
      fc.property(bytes(32), bytes(24), inner, fc.boolean(), (secret, msgId, p, padded) => {
        // Also unpadded: a length prefix that overruns the block.
        const content = padded ? pad(p, p.length + 2 + 10) : p;
        const m = typed(() => decryptMessage({ dhSecret: secret }, msgId, cryptoBox(secret, msgId, content)), MessageDecryptionError);
        if (m !== undefined) expect(equalBytes(m.msgId, msgId)).toBe(true);
      }),
      400,
    );
  });
});

// ---- INFO ----

const queueInfo: fc.Arbitrary<QueueInfo> = fc.record(
  {
    qiSnd: fc.boolean(),
    qiNtf: fc.boolean(),
    qiSub: fc.record(
      { qSubThread: fc.constantFrom("noSub" as const, "subPending" as const, "subThread" as const, "prohibitSub" as const), qDelivered: fc.string() },
      { requiredKeys: ["qSubThread"] },
    ),
    qiSize: fc.integer(),
    qiMsg: fc.record({ msgId: fc.base64String(), msgTs: fc.string(), msgType: fc.constantFrom("message" as const, "quota" as const) }),
  },
  { requiredKeys: ["qiSnd", "qiNtf", "qiSize"] },
);

describe("parseQueueInfo", () => {
  it("reads back any QueueInfo as JSON", () => {
    check(
      fc.property(queueInfo, (q) => {
        expect(parseQueueInfo(JSON.stringify(q))).toEqual(q);
      }),
      400,
    );
  });

  it("any string, any JSON and mutated INFO JSON give a QueueInfo or QueueInfoError", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.json(),
      queueInfo.map((q) => JSON.stringify(q)),
      mutatedString(queueInfo.map((q) => JSON.stringify(q)), fc.constantFrom("{", "}", "[", "]", ",", '"qiSize":', "null", "1e400", "true")),
      fc.jsonValue().chain((junk) => queueInfo.map((q) => JSON.stringify({ ...q, qiSub: junk }))),
      fc.jsonValue().chain((junk) => queueInfo.map((q) => JSON.stringify({ ...q, qiMsg: junk }))),
    );
    check(
      fc.property(text, (s) => {
        const q = typed(() => parseQueueInfo(s), QueueInfoError);
        if (q !== undefined) {
          expect(typeof q.qiSnd).toBe("boolean");
          expect(Number.isInteger(q.qiSize)).toBe(true);
        }
      }),
      1500,
    );
  });

  it("regression: text that is not JSON, or JSON of another shape, is QueueInfoError (was SyntaxError / Error)", () => {
    for (const s of ["", "{", "INFO", '{"qiSnd":true', "[]", "null", '{"qiSnd":true,"qiNtf":false,"qiSize":1.5}']) {
      expect(() => parseQueueInfo(s)).toThrow(QueueInfoError);
    }
  });
});

// ---- readConfig ----

const CONFIG_VARS = [
  "MESSAGE_TTL_SECONDS",
  "QUEUE_QUOTA",
  "ALLOW_NEW_QUEUES",
  "QUEUE_PASSWORD",
  "HANDSHAKE_TIMEOUT_SECONDS",
  "MAX_PENDING_BLOCKS",
  "NEW_QUEUES_PER_MINUTE",
  "MAX_SUBSCRIPTIONS",
  "LIMIT_CONNECTIONS_PER_IP",
];

const configValue = fc.oneof(
  fc.constantFrom("", "true", "false", "0", "1", "-1", "60", "128", "10000", "1e3", "0x10", " 5", "NaN", "Infinity", "1.5", "9".repeat(30)),
  fc.integer({ min: -10, max: 40_000_000 }).map(String),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 10 }),
);

describe("readConfig", () => {
  it("any environment gives a config of whole positive numbers, or ConfigError", () => {
    check(
      fc.property(fc.dictionary(fc.constantFrom(...CONFIG_VARS), configValue), (env) => {
        const c = typed(() => readConfig(env as ConfigEnv), ConfigError);
        if (c === undefined) return;
        for (const [k, v] of Object.entries(c)) {
          if (typeof v === "number") expect(Number.isInteger(v) && v >= 1, k).toBe(true);
        }
        expect(c.allowNewQueues).toBe(env.ALLOW_NEW_QUEUES !== "false");
        if (c.queuePassword !== null) expect(c.queuePassword).toMatch(/^[!-~]+$/);
      }),
      2000,
    );
  });

  it("reads back in-range values; an empty environment is the defaults", () => {
    expect(readConfig({})).toEqual(DEFAULT_CONFIG);
    check(
      fc.property(
        fc.integer({ min: 60, max: 365 * 24 * 3600 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.boolean(),
        fc.option(fc.stringMatching(/^[!-~]{1,20}$/).filter((p) => !/[@:/]/.test(p)), { nil: null }),
        (ttl, quota, allow, password) => {
          const c = readConfig({
            MESSAGE_TTL_SECONDS: String(ttl),
            QUEUE_QUOTA: String(quota),
            ALLOW_NEW_QUEUES: String(allow),
            ...(password === null ? {} : { QUEUE_PASSWORD: password }),
          });
          expect([c.messageTtlSeconds, c.queueQuota, c.allowNewQueues, c.queuePassword]).toEqual([ttl, quota, allow, password]);
        },
      ),
      300,
    );
  });
});

// ---- identity secrets ----

let identity: RelayIdentity;
let identity448: RelayIdentity;

beforeAll(async () => {
  identity = (await generateIdentity("relay.example")).identity;
  identity448 = (await generateIdentity("relay.example", "ed448")).identity;
});

function pem(der: Uint8Array): string {
  const b = base64.encode(der);
  return `-----BEGIN CERTIFICATE-----\n${b.replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
}

/** The forms a certificate secret may take: base64url (the CLI's), standard base64, PEM. */
const certText = (der: Uint8Array): fc.Arbitrary<string> => fc.constantFrom(base64url.encode(der), base64.encode(der), pem(der));

describe("identity secrets", () => {
  it("decodeCertificateSecret reads every accepted form; decodeSigningKeySecret reads what encodeSigningKeySecret wrote", () => {
    for (const id of [identity, identity448]) {
      for (const der of [id.caCert, id.onlineCert]) {
        for (const s of [base64url.encode(der), base64.encode(der), pem(der), `  ${pem(der)}\n`]) {
          expect(decodeCertificateSecret("X", s)).toEqual(der);
        }
      }
      expect(decodeSigningKeySecret("K", encodeSigningKeySecret(id.onlineKey))).toEqual(id.onlineKey);
    }
  });

  it("any string and mutated certificate secrets give a certificate or ConfigError naming the secret", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constant(null).chain(() => certText(identity.onlineCert)),
      mutatedString(fc.constant(null).chain(() => fc.oneof(certText(identity.onlineCert), certText(identity448.caCert)))),
    );
    check(
      fc.property(text, (s) => {
        try {
          decodeCertificateSecret("RELAY_CA_CERT", s);
        } catch (e) {
          assertTyped(e, ConfigError);
          expect(e.message.startsWith("RELAY_CA_CERT: ")).toBe(true);
        }
      }),
      800,
    );
  });

  it("any string and mutated key secrets give a key of the right length or ConfigError naming the secret", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      mutatedString(fc.constant(null).map(() => encodeSigningKeySecret(identity.onlineKey))),
      mutatedString(fc.constant(null).map(() => encodeSigningKeySecret(identity448.onlineKey))),
      fc.tuple(fc.constantFrom("ed25519", "ED448", "x25519", ""), fc.uint8Array({ maxLength: 70 })).map(([a, s]) => `${a}:${base64url.encode(s)}`),
    );
    check(
      fc.property(text, (s) => {
        let k;
        try {
          k = decodeSigningKeySecret("RELAY_ONLINE_KEY", s);
        } catch (e) {
          assertTyped(e, ConfigError);
          expect(e.message.startsWith("RELAY_ONLINE_KEY: ")).toBe(true);
          return;
        }
        expect(k.seed.length).toBe(k.alg === "ed25519" ? 32 : 57);
      }),
      800,
    );
  });

  it("identityFromSecrets: the CLI's values give the identity back; mutated, swapped or partial values give ConfigError", async () => {
    for (const id of [identity, identity448]) {
      const back = await identityFromSecrets(identitySecretValues(id));
      expect(back).not.toBeNull();
      expect(equalBytes(back!.keyHash, id.keyHash)).toBe(true);
      expect(back!.onlineKey).toEqual(id.onlineKey);
    }
    const NAMES = ["RELAY_CA_CERT", "RELAY_ONLINE_CERT", "RELAY_ONLINE_KEY"] as const;
    const envs = fc.constantFrom(identity, identity448).chain((id) => {
      const v = identitySecretValues(id);
      const other = identitySecretValues(id === identity ? identity448 : identity);
      return fc.record({
        RELAY_CA_CERT: fc.option(fc.oneof(fc.constant(v.RELAY_CA_CERT), fc.constant(v.RELAY_ONLINE_CERT), fc.constant(other.RELAY_CA_CERT), mutatedString(fc.constant(v.RELAY_CA_CERT))), { nil: undefined }),
        RELAY_ONLINE_CERT: fc.option(fc.oneof(fc.constant(v.RELAY_ONLINE_CERT), fc.constant(v.RELAY_CA_CERT), fc.constant(other.RELAY_ONLINE_CERT), mutatedString(fc.constant(v.RELAY_ONLINE_CERT))), { nil: undefined }),
        RELAY_ONLINE_KEY: fc.option(fc.oneof(fc.constant(v.RELAY_ONLINE_KEY), fc.constant(other.RELAY_ONLINE_KEY), mutatedString(fc.constant(v.RELAY_ONLINE_KEY))), { nil: undefined }),
      });
    });
    await checkAsync(
      fc.asyncProperty(envs, async (env: IdentitySecretsEnv) => {
        const r = await typedAsync(() => identityFromSecrets(env), ConfigError);
        if (r === undefined) return;
        if (r === null) {
          expect(NAMES.every((n) => (env[n] ?? "").trim() === "")).toBe(true);
          return;
        }
        // An identity only from three values that belong together.
        expect(NAMES.every((n) => env[n] !== undefined)).toBe(true);
        expect(equalBytes(r.keyHash, identity.keyHash) || equalBytes(r.keyHash, identity448.keyHash)).toBe(true);
      }),
      150,
    );
  });
});
