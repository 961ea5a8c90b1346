#!/usr/bin/env node
// In a clone, without a build: runs the CLI from its TypeScript sources (src/cli/bin.ts) through
// tsx, a devDependency. Not shipped: the package's `smp-relay` is dist/cli/bin.js, plain Node.
import { tsImport } from "tsx/esm/api";

await tsImport("../src/cli/bin.ts", import.meta.url);
