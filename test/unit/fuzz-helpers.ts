// Shared pieces of the fuzz suite (test/unit/fuzz-*.test.ts): run parameters, byte and string
// mutations, and the check that a decoder either returns or throws its own typed error.
//
// Runs are reproducible: a fixed seed unless FUZZ_SEED says otherwise. For a deeper local run:
//   FUZZ_SEED=random FUZZ_RUNS=20 npx vitest run --project node test/unit/fuzz-
// (FUZZ_RUNS multiplies every property's number of runs; a failure prints the seed to replay it.)
import fc from "fast-check";

const seedVar = process.env.FUZZ_SEED;
export const SEED: number =
  seedVar === undefined || seedVar === "" ? 0x5119_0019 : seedVar === "random" ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(seedVar);
const FACTOR = Math.max(1, Number(process.env.FUZZ_RUNS ?? "1") || 1);

if (seedVar === "random") console.log(`fuzz seed ${SEED}`);

/** Checks a synchronous property with the suite's seed and `numRuns` × FUZZ_RUNS runs. */
export function check<Ts>(p: fc.IProperty<Ts>, numRuns: number): void {
  fc.assert(p, { seed: SEED, numRuns: Math.ceil(numRuns * FACTOR) });
}

/** Checks an asynchronous property (crypto that awaits) the same way. */
export async function checkAsync<Ts>(p: fc.IAsyncProperty<Ts>, numRuns: number): Promise<void> {
  await fc.assert(p, { seed: SEED, numRuns: Math.ceil(numRuns * FACTOR) });
}

// ---- typed errors ----

export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * No single decode may take longer than this. Every decoder here is linear in its input, which
 * takes well under a millisecond at these sizes: a call that runs for this long is a super-linear
 * path (e.g. regex backtracking) that an attacker could use to burn CPU.
 */
export const CALL_BUDGET_MS = 1000;

/**
 * Runs `f` and returns its value, or undefined when it threw one of `allowed`. Any other exception
 * is rethrown with its type named, so fast-check reports and shrinks the input that caused it.
 */
export function typed<T>(f: () => T, ...allowed: ErrorClass[]): T | undefined {
  const t0 = performance.now();
  let out: T | undefined;
  try {
    out = f();
  } catch (e) {
    assertTyped(e, ...allowed);
  }
  const ms = performance.now() - t0;
  if (ms > CALL_BUDGET_MS) throw new Error(`a single call took ${ms.toFixed(0)} ms`);
  return out;
}

/** Passes when `e` is one of `allowed`; otherwise fails naming the exception's type. */
export function assertTyped(e: unknown, ...allowed: ErrorClass[]): asserts e is Error {
  if (allowed.some((c) => e instanceof c)) return;
  const name = e instanceof Error ? e.constructor.name : typeof e;
  throw new Error(`untyped exception ${name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** The asynchronous form of `typed`. */
export async function typedAsync<T>(f: () => Promise<T>, ...allowed: ErrorClass[]): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    assertTyped(e, ...allowed);
    return undefined;
  }
}

/** Calls `f` and requires that it never throws at all (decoders documented to return null). */
export function total<T>(f: () => T): T {
  return typed(f) as T;
}

// ---- byte mutations ----

export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; n: number }
  | { kind: "append"; bytes: Uint8Array }
  | { kind: "duplicate"; at: number; n: number };

/** Bytes that mean something to these encodings: lengths, Maybe/Bool tags, space, DER tags. */
const interestingByte = fc.oneof(
  fc.constantFrom(0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0xff, 0x20, 0x30, 0x31, 0x43, 0x46, 0x4d, 0x53, 0x54, 0xa0),
  fc.nat(255),
);

const someBytes = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.array(interestingByte, { minLength: 1, maxLength: 4 }).map((a) => Uint8Array.from(a)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 9, maxLength: 300 }) },
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: interestingByte }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: someBytes }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant("append" as const), bytes: someBytes }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
);

export function applyMutation(b: Uint8Array, m: Mutation): Uint8Array {
  const len = b.length;
  const at = (x: number, extra = 0): number => (len + extra === 0 ? 0 : x % (len + extra));
  switch (m.kind) {
    case "flip":
    case "set": {
      if (len === 0) return Uint8Array.of(m.kind === "set" ? m.value : 1 << m.bit);
      const out = b.slice();
      const i = at(m.at);
      out[i] = m.kind === "set" ? m.value : (out[i] as number) ^ (1 << m.bit);
      return out;
    }
    case "truncate":
      return b.slice(0, at(m.at));
    case "insert": {
      const i = at(m.at, 1);
      return concat(b.subarray(0, i), m.bytes, b.subarray(i));
    }
    case "delete": {
      const i = at(m.at);
      return concat(b.subarray(0, i), b.subarray(i + m.n));
    }
    case "append":
      return concat(b, m.bytes);
    case "duplicate": {
      const i = at(m.at);
      return concat(b.subarray(0, i + m.n), b.subarray(i));
    }
  }
}

/** A valid encoding with one to four mutations applied. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([b, ms]) => ms.reduce(applyMutation, b));
}

/** Random bytes, valid encodings and mutations of them, in one arbitrary. */
export function hostile(valid: fc.Arbitrary<Uint8Array>, maxRandom = 512): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: maxRandom }) },
    { weight: 1, arbitrary: valid },
    { weight: 5, arbitrary: mutated(valid) },
  );
}

/** Every strict prefix of `b`, shortest first. */
export function* truncations(b: Uint8Array): Generator<Uint8Array> {
  for (let n = 0; n < b.length; n++) yield b.slice(0, n);
}

/** `b` with each of its bits flipped in turn. */
export function* bitFlips(b: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < b.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const out = b.slice();
      out[i] = (out[i] as number) ^ (1 << bit);
      yield out;
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- string mutations ----

/** A string with characters flipped, cut, inserted, deleted or wrapped (for text decoders). */
export function mutatedString(valid: fc.Arbitrary<string>, alphabet?: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const piece = fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.string({ unit: "binary", maxLength: 3 }),
    fc.constantFrom("=", "==", "-", "_", "+", "/", " ", "\n", "\t", '"', "'", ":", "@", "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"),
    ...(alphabet ? [alphabet] : []),
  );
  const edit = fc.oneof(
    fc.record({ k: fc.constant("replace" as const), at: fc.nat(), s: piece }),
    fc.record({ k: fc.constant("insert" as const), at: fc.nat(), s: piece }),
    fc.record({ k: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ k: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ k: fc.constant("wrap" as const), s: piece }),
  );
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([s, edits]) =>
    edits.reduce((v, e) => {
      const i = v.length === 0 ? 0 : ("at" in e ? e.at : 0) % (v.length + 1);
      switch (e.k) {
        case "replace":
          return v.slice(0, i) + e.s + v.slice(i + 1);
        case "insert":
          return v.slice(0, i) + e.s + v.slice(i);
        case "delete":
          return v.slice(0, i) + v.slice(i + e.n);
        case "truncate":
          return v.slice(0, i);
        case "wrap":
          return e.s + v + e.s;
      }
    }, s),
  );
}

// ---- value arbitraries ----

/** Bytes for a ByteString field (≤ 255), mostly short, sometimes at the limit. */
export const shortBytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 240, maxLength: 255 }) },
);

/** Bytes for a Large field (≤ 65535), mostly short. */
export const largeBytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 4000 }) },
);

/** Trailing bytes (a SEND body, an encrypted PFWD), mostly short. */
export const tailBytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 16000 }) },
);

/**
 * The value with every byte array replaced by its hex (recursively): compares in a fraction of
 * the time toEqual takes over typed arrays, and prints readably when it fails.
 */
export function hexify(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`;
  if (Array.isArray(v)) return v.map(hexify);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hexify(x)]));
  return v;
}
