// scripts/libsodium.ts: the wasm and loader it takes out of the pinned `libsodium` package, and its
// refusals when the package is not the one it was written for.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractLibsodium, LIBSODIUM_VERSION, LibsodiumLayoutError } from "../../scripts/libsodium.js";

const ROOT = resolve(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "smp-relay-libsodium-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The smallest valid module: header only. */
const EMPTY_WASM = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
const LOADER_OK = (literal: string): string => `async function A(g={}){return g.instantiateWasm?1:decode(${literal})}export default A;`;

let n = 0;
/** A fake package directory with this package.json and loader (null: no loader file). */
function fakePackage(loader: string | null, pkg: object = { name: "libsodium", version: LIBSODIUM_VERSION }): string {
  const dir = join(scratch, `p${n++}`);
  mkdirSync(join(dir, "dist/modules-esm"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
  if (loader !== null) writeFileSync(join(dir, "dist/modules-esm/libsodium.mjs"), loader);
  return dir;
}

describe("libsodium extraction", () => {
  it("takes the installed package's wasm out of its loader, and the loader keeps its instantiateWasm hook", () => {
    const { wasm, loader } = extractLibsodium();
    expect(Array.from(wasm.subarray(0, 8))).toEqual(Array.from(EMPTY_WASM));
    expect(WebAssembly.validate(wasm)).toBe(true);
    expect(wasm.length).toBeGreaterThan(100_000);
    expect(loader).toContain("instantiateWasm");
    expect(loader).not.toMatch(/AGFzbQ/);
    expect(loader.length).toBeLessThan(30_000);
    // What the build wrote is this.
    expect(new Uint8Array(readFileSync(join(ROOT, "src/server/generated/libsodium.wasm")))).toEqual(wasm);
    expect(readFileSync(join(ROOT, "src/server/generated/libsodium.mjs"), "utf8")).toBe(loader);
  });

  it("package.json pins the version the extraction is written for", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.libsodium).toBe(LIBSODIUM_VERSION);
  });

  it("works on a package of the expected layout", () => {
    const { wasm, loader } = extractLibsodium(fakePackage(LOADER_OK(`"${b64(EMPTY_WASM)}"`)));
    expect(wasm).toEqual(EMPTY_WASM);
    expect(loader).toContain('decode("")');
  });

  it("refuses another version, a missing loader, no wasm or two, bytes that are not WebAssembly, a loader without the hook", () => {
    const refusals: Array<[string, RegExp]> = [
      [fakePackage(LOADER_OK(`"${b64(EMPTY_WASM)}"`), { name: "libsodium", version: "0.8.5" }), /found libsodium@0\.8\.5/],
      [fakePackage(LOADER_OK(`"${b64(EMPTY_WASM)}"`), { name: "libsodium-sumo", version: LIBSODIUM_VERSION }), /found libsodium-sumo/],
      [fakePackage(null), /libsodium\.mjs is missing/],
      [fakePackage(LOADER_OK(`fetch("libsodium.wasm")`)), /found 0/],
      [fakePackage(LOADER_OK(`"${b64(EMPTY_WASM)}","${b64(EMPTY_WASM)}"`)), /found 2/],
      [fakePackage(LOADER_OK(`"${b64(Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]))}"`)), /WebAssembly 1\.0/],
      [fakePackage(LOADER_OK(`"${b64(Uint8Array.from([...EMPTY_WASM, 0xff, 0xff]))}"`)), /does not validate/],
      [fakePackage(`export default function A(){return decode("${b64(EMPTY_WASM)}")}`), /instantiateWasm/],
    ];
    for (const [dir, message] of refusals) {
      let thrown: unknown;
      try {
        extractLibsodium(dir);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, dir).toBeInstanceOf(LibsodiumLayoutError);
      expect((thrown as Error).message).toMatch(message);
    }
  });
});
