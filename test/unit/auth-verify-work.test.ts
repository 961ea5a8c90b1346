// verifyCommand (src/server/auth.ts) does a verification's worth of work whatever it is given, so
// the time an answer takes does not tell an attacker whether the queue exists or which kind of key
// it has (WIRE.md 5.3: "A key/authorization type mismatch is a failure (ERR AUTH). Upstream still
// runs a dummy verification of the same type"; upstream verifies the authorization against a
// dummy key of the authorization's own type).
//
// Timing cannot be asserted reliably in a test; what can be is that the verification primitive
// of the authorization's kind actually runs: X25519 (crypto.subtle.deriveBits) for an 80-byte
// authenticator, Ed25519 (crypto.subtle.verify) for a 64-byte signature, Ed448 (@noble/curves
// ed448.verify) for a 114-byte one. src/server/auth.ts imports only src/crypto, which runs in
// Node, so the server's own function is tested here.
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { makeAuthenticator } from "../../src/crypto/authenticator.js";
import type { PublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateSigningKey, publicKeyOf, sign, type SigningKey } from "../../src/crypto/signing.js";
import { generateX25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import { verifyAny, verifyCommand, type AuthInput } from "../../src/server/auth.js";

const ed448Calls = vi.hoisted(() => ({ n: 0 }));
vi.mock("@noble/curves/ed448.js", async (importOriginal) => {
  const m = await importOriginal<typeof import("@noble/curves/ed448.js")>();
  const verify: typeof m.ed448.verify = (...args) => {
    ed448Calls.n++;
    return m.ed448.verify(...args);
  };
  return { ...m, ed448: { ...m.ed448, verify } };
});

type KeyKind = "no key" | "an X25519 key" | "an Ed25519 key" | "an Ed448 key";
type AuthKind = "no authorization" | "an X25519 authenticator" | "an Ed25519 signature" | "an Ed448 signature";
type Work = "x25519" | "ed25519" | "ed448";

/** The primitive a verification of this authorization runs (for none, any verification will do). */
const WORK: Record<AuthKind, Work | "any"> = {
  "no authorization": "any",
  "an X25519 authenticator": "x25519",
  "an Ed25519 signature": "ed25519",
  "an Ed448 signature": "ed448",
};

let session: X25519KeyPair;
const corrId = randomBytes(24);
const tForAuth = randomBytes(120);
const keys = {} as Record<KeyKind, PublicKey | null>;
const auths = {} as Record<AuthKind, Uint8Array>;
/** The private halves of the keys, to make authorizations that do verify. */
const holders = {} as { x25519: X25519KeyPair; ed25519: SigningKey; ed448: SigningKey };

const input = (authorization: Uint8Array): AuthInput => ({ authorization, tForAuth, corrId, sessionPriv: session.privateKey });

beforeAll(async () => {
  session = await generateX25519();
  holders.x25519 = await generateX25519();
  holders.ed25519 = await generateSigningKey("ed25519");
  holders.ed448 = await generateSigningKey("ed448");
  keys["no key"] = null;
  keys["an X25519 key"] = { alg: "x25519", raw: holders.x25519.publicKey };
  keys["an Ed25519 key"] = await publicKeyOf(holders.ed25519);
  keys["an Ed448 key"] = await publicKeyOf(holders.ed448);
  // Well-formed authorizations of each kind, made with other keys than the ones above.
  auths["no authorization"] = new Uint8Array(0);
  auths["an X25519 authenticator"] = await makeAuthenticator(session.publicKey, (await generateX25519()).privateKey, corrId, tForAuth);
  auths["an Ed25519 signature"] = await sign(await generateSigningKey("ed25519"), tForAuth);
  auths["an Ed448 signature"] = await sign(await generateSigningKey("ed448"), tForAuth);
  expect(auths["an X25519 authenticator"].length).toBe(80);
  expect(auths["an Ed25519 signature"].length).toBe(64);
  expect(auths["an Ed448 signature"].length).toBe(114);
  // The first call makes the throwaway keys; measure from the second on.
  for (const a of Object.values(auths)) await verifyCommand(null, input(a));
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs verifyCommand (or verifyAny, given a list of keys) and counts the verification primitives it ran. */
async function measure(key: PublicKey | null | PublicKey[], authorization: Uint8Array): Promise<{ ok: boolean; work: Record<Work, number> }> {
  // Fresh counts (spies of an earlier measure in the same test would add up).
  vi.restoreAllMocks();
  const derive = vi.spyOn(crypto.subtle, "deriveBits");
  const verify = vi.spyOn(crypto.subtle, "verify");
  ed448Calls.n = 0;
  const ok = Array.isArray(key) ? await verifyAny(key, input(authorization)) : await verifyCommand(key, input(authorization));
  return { ok, work: { x25519: derive.mock.calls.length, ed25519: verify.mock.calls.length, ed448: ed448Calls.n } };
}

const KEY_KINDS: KeyKind[] = ["no key", "an X25519 key", "an Ed25519 key", "an Ed448 key"];
const AUTH_KINDS: AuthKind[] = ["no authorization", "an X25519 authenticator", "an Ed25519 signature", "an Ed448 signature"];

describe("verifyCommand does the work of a verification whenever it refuses", () => {
  const cases = KEY_KINDS.flatMap((k) => AUTH_KINDS.map((a) => [k, a, WORK[a]] as const));

  it.each(cases)("%s and %s: refused, after a verification (%s)", async (k, a, work) => {
    const { ok, work: done } = await measure(keys[k], auths[a]);
    expect(ok).toBe(false);
    if (work === "any") expect(done.x25519 + done.ed25519 + done.ed448).toBeGreaterThanOrEqual(1);
    else expect(done[work], `verifications of kind ${work}; all: ${JSON.stringify(done)}`).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ["an X25519 key", "an X25519 authenticator", "x25519"],
    ["an Ed25519 key", "an Ed25519 signature", "ed25519"],
    ["an Ed448 key", "an Ed448 signature", "ed448"],
  ] as const)("the control: %s with %s made by its holder verifies (%s)", async (k, _a, work) => {
    let auth: Uint8Array;
    if (work === "x25519") auth = await makeAuthenticator(session.publicKey, holders.x25519.privateKey, corrId, tForAuth);
    else auth = await sign(holders[work], tForAuth);
    const { ok, work: done } = await measure(keys[k], auth);
    expect(ok).toBe(true);
    expect(done[work]).toBeGreaterThanOrEqual(1);
  });
});

describe("the connection's session key is imported once, for real and throwaway verifications alike", () => {
  it("a fresh session key: one PKCS#8 import over several X25519 verifications, with and without a key", async () => {
    const fresh = await generateX25519();
    const owner = await generateX25519();
    const key: PublicKey = { alg: "x25519", raw: owner.publicKey };
    const good = await makeAuthenticator(fresh.publicKey, owner.privateKey, corrId, tForAuth);
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    for (let i = 0; i < 3; i++) {
      const a = (authorization: Uint8Array): AuthInput => ({ authorization, tForAuth, corrId, sessionPriv: fresh.privateKey });
      expect(await verifyCommand(key, a(good))).toBe(true);
      expect(await verifyCommand(null, a(good))).toBe(false);
      expect(await verifyCommand(key, a(auths["an X25519 authenticator"]))).toBe(false);
    }
    const pkcs8 = importKey.mock.calls.filter((c) => c[0] === "pkcs8");
    expect(pkcs8).toHaveLength(1);
  });
});

describe("an X25519 authenticator checked from SHA-512(tForAuth) alone (what a Session sends a Queue)", () => {
  it("verifies with the hash in place of tForAuth, and not with the hash of another transmission", async () => {
    const owner = await generateX25519();
    const key: PublicKey = { alg: "x25519", raw: owner.publicKey };
    const good = await makeAuthenticator(session.publicKey, owner.privateKey, corrId, tForAuth);
    const hashOf = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.digest("SHA-512", b.slice()));
    const byHash = (h: Uint8Array): AuthInput => ({ authorization: good, tForAuth: new Uint8Array(0), tForAuthHash: h, corrId, sessionPriv: session.privateKey });
    expect(await verifyCommand(key, byHash(await hashOf(tForAuth)))).toBe(true);
    const other = tForAuth.slice();
    other[0]! ^= 1;
    expect(await verifyCommand(key, byHash(await hashOf(other)))).toBe(false);
    // No key: the throwaway verification runs on the hash too, and refuses.
    expect(await verifyCommand(null, byHash(await hashOf(tForAuth)))).toBe(false);
  });
});

// verifyAny: a contact queue's recipient keys after RKEY (WIRE.md 6.13a: every recipient command
// verifies against any of them; upstream verifiedWithKeys).
describe("verifyAny against a list of keys", () => {
  it.each(AUTH_KINDS.map((a) => [a, WORK[a]] as const))("an empty list and %s: refused, after one verification (%s)", async (a, work) => {
    const { ok, work: done } = await measure([], auths[a]);
    expect(ok).toBe(false);
    const all = done.x25519 + done.ed25519 + done.ed448;
    // One verification: X25519 is one deriveBits, Ed25519 one subtle.verify, Ed448 one ed448.verify.
    expect(all, JSON.stringify(done)).toBe(1);
    if (work !== "any") expect(done[work], JSON.stringify(done)).toBe(1);
  });

  it("an empty list costs what no key costs (verifyCommand with null), kind for kind", async () => {
    for (const a of AUTH_KINDS) expect((await measure([], auths[a])).work, a).toEqual((await measure(null, auths[a])).work);
  });

  it("several keys: an authorization by the second verifies; by the first, the last, or of another kind than the first key, too", async () => {
    const [x1, x2, x3] = [await generateX25519(), await generateX25519(), await generateX25519()];
    const pub = (k: X25519KeyPair): PublicKey => ({ alg: "x25519", raw: k.publicKey });
    const by = (k: X25519KeyPair): Promise<Uint8Array> => makeAuthenticator(session.publicKey, k.privateKey, corrId, tForAuth);
    const list = [pub(x1), pub(x2), pub(x3)];
    const second = await measure(list, await by(x2));
    expect(second.ok).toBe(true);
    // The first key was tried (and refused) before the second verified.
    expect(second.work.x25519).toBe(2);
    expect((await measure(list, await by(x1))).ok).toBe(true);
    expect((await measure(list, await by(x3))).ok).toBe(true);
    // Mixed kinds: an Ed25519 key first, the X25519 key that signed second; and the other way round.
    expect((await measure([keys["an Ed25519 key"]!, pub(x2)], await by(x2))).ok).toBe(true);
    expect((await measure([pub(x1), keys["an Ed25519 key"]!], await sign(holders.ed25519, tForAuth))).ok).toBe(true);
  });

  it("several keys, none of which made the authorization: refused, after a verification per key of its kind (one at least)", async () => {
    const [x1, x2] = [await generateX25519(), await generateX25519()];
    const list: PublicKey[] = [{ alg: "x25519", raw: x1.publicKey }, { alg: "x25519", raw: x2.publicKey }, keys["an Ed25519 key"]!];
    const ofKind: Record<Work, number> = { x25519: 2, ed25519: 1, ed448: 0 };
    for (const a of AUTH_KINDS) {
      const { ok, work } = await measure(list, auths[a]);
      expect(ok, a).toBe(false);
      const kind = WORK[a];
      // Keys of another kind are not tried: a wrong signature costs no more than the list's keys of its own kind.
      if (kind !== "any") expect(work[kind], `${a}: ${JSON.stringify(work)}`).toBeGreaterThanOrEqual(Math.max(1, ofKind[kind]));
      else expect(work.x25519 + work.ed25519 + work.ed448, `${a}: ${JSON.stringify(work)}`).toBeGreaterThanOrEqual(1);
    }
    // A good authorization for the right transmission, by a key not in the list.
    const outsider = await generateX25519();
    expect((await measure(list, await makeAuthenticator(session.publicKey, outsider.privateKey, corrId, tForAuth))).ok).toBe(false);
    // The list's own key, over another transmission (so not this one's authorization).
    const other = await makeAuthenticator(session.publicKey, x1.privateKey, corrId, randomBytes(120));
    expect((await measure(list, other)).ok).toBe(false);
  });
});
