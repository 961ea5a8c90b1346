#!/usr/bin/env node
// The `smp-relay` command (bin/smp-relay.js runs this, built to dist/cli/bin.js): `identity` and
// `identity rotate` (identity.ts), `dev` (dev.ts: a local relay through the test harness), `link`
// (link.ts: a contact address and its short link).
import process from "node:process";
import { DEV_USAGE, runDev } from "./dev.js";
import { main as identity, USAGE } from "./identity.js";
import { LINK_USAGE, runLink } from "./link.js";

const argv = process.argv.slice(2);
if (argv[0] === "dev") {
  process.exitCode = await runDev(argv.slice(1));
} else if (argv[0] === "link") {
  process.exitCode = await runLink(argv.slice(1));
} else if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
  process.stdout.write(`${USAGE.trimEnd()}\n\n${DEV_USAGE}\n${LINK_USAGE}`);
} else {
  process.exitCode = await identity(argv);
}
