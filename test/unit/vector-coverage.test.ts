// Every vector in test/fixtures/vectors.json must be exercised by some test file. The check is
// static: it compares the registry in covered-vectors.ts with the fixture and with the source of
// the registered files, so it does not depend on which test files ran before it or in what order.
// (Each registered file in turn fails its own afterAll if it never fetched a name it registered.)
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COVERED_VECTORS } from "./covered-vectors.js";
import { ALL_VECTOR_NAMES, FIXTURE_PATH } from "./vectors.js";

const UNIT_DIR = new URL("./", import.meta.url);
const registry: Readonly<Record<string, readonly string[]>> = COVERED_VECTORS;
const files = Object.keys(registry);

describe("vector coverage", () => {
  it("reads the fixture from test/fixtures, with unique names", () => {
    expect(FIXTURE_PATH.pathname.endsWith("/test/fixtures/vectors.json")).toBe(true);
    expect(ALL_VECTOR_NAMES.length).toBeGreaterThanOrEqual(61);
    expect(new Set(ALL_VECTOR_NAMES).size).toBe(ALL_VECTOR_NAMES.length);
  });

  it("every vector in the fixture is registered by at least one test file", () => {
    const covered = new Set(files.flatMap((f) => registry[f]!));
    const missing = ALL_VECTOR_NAMES.filter((n) => !covered.has(n));
    expect(missing, "vectors without a test: register them in test/unit/covered-vectors.ts").toEqual([]);
  });

  it("every registered name exists in the fixture", () => {
    const known = new Set(ALL_VECTOR_NAMES);
    const unknown = files.flatMap((f) => registry[f]!.filter((n) => !known.has(n)).map((n) => `${f}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it("no file registers a name twice", () => {
    for (const f of files) {
      const names = registry[f]!;
      expect(new Set(names).size, f).toBe(names.length);
    }
  });

  for (const f of files) {
    it(`${f} exists and reads its vectors through vectorsFor("${f}")`, () => {
      const path = new URL(f, UNIT_DIR);
      expect(existsSync(path), `${f} is registered but does not exist in test/unit`).toBe(true);
      const src = readFileSync(path, "utf8");
      expect(src).toContain(`vectorsFor("${f}")`);
      expect(src).toContain("assertAllUsed()");
    });
  }

  it("every test file that calls vectorsFor is registered under its own name", () => {
    const testFiles = readdirSync(UNIT_DIR).filter((f) => f.endsWith(".test.ts"));
    for (const f of testFiles) {
      const src = readFileSync(new URL(f, UNIT_DIR), "utf8");
      for (const m of src.matchAll(/vectorsFor\("([^"]+)"\)/g)) {
        if (f === "vector-coverage.test.ts") continue; // this file only mentions it in messages
        expect(m[1], `${f} calls vectorsFor with another file's name`).toBe(f);
        expect(files, `${f} is not registered in covered-vectors.ts`).toContain(f);
      }
    }
  });
});
