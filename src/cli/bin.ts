#!/usr/bin/env node
// The `smp-relay` command (bin/smp-relay.js runs this, built to dist/cli/bin.js): `identity` and
// `identity rotate` (identity.ts), `dev` (dev.ts: a local relay through the test harness), `link`
// (link.ts: a contact address and its short link), `backup` and `restore` (backup.ts: the
// Identity object's contents, through the admin API, to and from a passphrase-encrypted file).
import process from "node:process";
import { BACKUP_USAGE, runBackup, runRestore } from "./backup.js";
import { DEV_USAGE, runDev } from "./dev.js";
import { main as identity, USAGE } from "./identity.js";
import { LINK_USAGE, runLink } from "./link.js";

const argv = process.argv.slice(2);
if (argv[0] === "dev") {
  process.exitCode = await runDev(argv.slice(1));
} else if (argv[0] === "backup") {
  process.exitCode = await runBackup(argv.slice(1));
} else if (argv[0] === "restore") {
  process.exitCode = await runRestore(argv.slice(1));
} else if (argv[0] === "link") {
  process.exitCode = await runLink(argv.slice(1));
} else if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
  process.stdout.write(`${USAGE.trimEnd()}\n\n${DEV_USAGE}\n${LINK_USAGE}\n${BACKUP_USAGE}`);
} else {
  process.exitCode = await identity(argv);
}
