// version.ts repeats two facts from package.json (the Worker bundle does not import it).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { RELAY_VERSION, SOURCE_URL } from "../../src/server/version.js";

const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../package.json"), "utf8")) as {
  version: string;
  repository: { url: string };
};

describe("version.ts", () => {
  it("matches package.json's version and repository", () => {
    expect(RELAY_VERSION).toBe(pkg.version);
    expect(SOURCE_URL).toBe(pkg.repository.url.replace(/^git\+/, "").replace(/\.git$/, ""));
  });
});
