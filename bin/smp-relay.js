#!/usr/bin/env node
// `npx smp-relay …`: runs the TypeScript CLI (src/cli/) through tsx, which `npm install` / `npm ci`
// puts in node_modules (a devDependency), so a fresh clone needs no build step.
import process from "node:process";
import { tsImport } from "tsx/esm/api";

const cli = await tsImport("../src/cli/identity.ts", import.meta.url);
process.exitCode = await cli.main(process.argv.slice(2));
