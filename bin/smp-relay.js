#!/usr/bin/env node
// The `smp-relay` command. Installed from the package it runs the built CLI (dist/cli/bin.js,
// plain Node). In a clone without a build it runs the TypeScript sources (src/cli/bin.ts)
// through tsx, a devDependency, so `npx smp-relay …` works either way.
import { existsSync } from "node:fs";
import { fileURLToPath, URL } from "node:url";

const built = new URL("../dist/cli/bin.js", import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  const { tsImport } = await import("tsx/esm/api");
  await tsImport("../src/cli/bin.ts", import.meta.url);
}
