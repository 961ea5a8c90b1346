// `smp-relay backup` and `smp-relay restore`: what the relay's Identity object keeps (its
// identity, CA key included, and the routing key that seals queue ids) to a file encrypted with
// a passphrase, and back into a relay whose Identity object is empty. The relay's admin API
// (/admin/identity, bearer ADMIN_TOKEN) hands over and takes the plaintext state over TLS; the
// passphrase encryption (identityBackup.ts: PBKDF2-SHA256 + AES-256-GCM) happens here, so the
// passphrase never leaves this machine.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { base64url } from "../protocol/base64.js";
import {
  BackupError,
  MIN_PASSPHRASE_LENGTH,
  decryptBackup,
  encryptBackup,
  parseRelayState,
  stateToJson,
  type RelayState,
} from "../server/identityBackup.js";
import { CliError, type Io } from "./identity.js";

export const BACKUP_USAGE = `  smp-relay backup --relay URL (--token TOKEN | --token-file FILE) --out FILE [--passphrase-file FILE]
      Saves the relay's identity (CA key included, unless the RELAY_* secrets hold it) and the
      routing key that seals its queue ids to FILE (mode 0600; never overwrites), encrypted with
      a passphrase (asked twice on the terminal, or the first line of --passphrase-file).
  smp-relay restore --relay URL (--token TOKEN | --token-file FILE) --in FILE [--passphrase-file FILE]
      Loads a backup into a relay whose Identity object is empty (it refuses to overwrite):
      the same address, and every queue of the same account opens again.

      URL: https://<host>, or http://127.0.0.1:<port> (also localhost, [::1]) for a local relay.
      TOKEN: the relay's ADMIN_TOKEN secret. The passphrase is never taken on the command line.
`;

export interface BackupIo extends Io {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  /** Reads a passphrase without echo; throws CliError when there is no terminal. */
  readPassphrase: (prompt: string) => Promise<string>;
}

const defaultIo: BackupIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  fetch: (url, init) => fetch(url, init),
  readPassphrase: ttyPassphrase,
};

/** The admin API's base URL for the relay (https, or plain http to this machine only). */
export function relayBase(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--relay "${value}" is not a URL (https://<host>)`);
  }
  const local = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
    throw new CliError(`--relay must be https:// (plain http only to 127.0.0.1, localhost or [::1]): the token and the backup travel in it`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new CliError("--relay takes the relay's base URL only, without a query, fragment or credentials");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}/admin/identity`;
}

/** The first line of a file (a trailing newline is not part of the passphrase or token). */
function firstLine(path: string, what: string): string {
  if (!existsSync(path)) throw new CliError(`${what} ${path} not found`);
  const line = readFileSync(path, "utf8").split(/\r?\n/)[0] ?? "";
  if (line === "") throw new CliError(`${what} ${path} is empty`);
  return line;
}

async function passphrase(io: BackupIo, file: string | undefined, confirm: boolean): Promise<string> {
  if (file !== undefined) return firstLine(file, "--passphrase-file");
  const p = await io.readPassphrase("Passphrase for the backup: ");
  if ([...p.normalize("NFC")].length < MIN_PASSPHRASE_LENGTH) {
    throw new CliError(`the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  if (confirm && (await io.readPassphrase("The same passphrase again: ")) !== p) throw new CliError("the two passphrases differ");
  return p;
}

async function call(io: BackupIo, url: string, token: string, body: string | null): Promise<{ status: number; json: unknown }> {
  let res: Response;
  try {
    res = await io.fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, ...(body === null ? {} : { "content-type": "application/json" }) },
      ...(body === null ? {} : { body }),
      redirect: "error",
    });
  } catch (e) {
    throw new CliError(`cannot reach ${url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // an error page; reported by status below
  }
  if (res.status === 401 || res.status === 403) throw new CliError(`the relay refused the token (${res.status}): --token must be its ADMIN_TOKEN`);
  if (res.status === 404) throw new CliError(`${url}: not found (404): is ADMIN_TOKEN set on the relay, and is it a version with /admin/identity?`);
  return { status: res.status, json };
}

function errorOf(json: unknown): string {
  const e = (json as { error?: unknown } | null)?.error;
  return typeof e === "string" ? e : "no details";
}

interface Common {
  base: string;
  token: string;
  passphraseFile: string | undefined;
  file: string;
}

function parse(argv: string[], fileOption: "out" | "in"): Common | { usage: string } | { help: true } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        relay: { type: "string" },
        token: { type: "string" },
        "token-file": { type: "string" },
        [fileOption]: { type: "string" },
        "passphrase-file": { type: "string" },
        passphrase: { type: "string" }, // refused below, with a reason
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    return { usage: (e as Error).message };
  }
  const o = parsed.values as Record<string, string | boolean | undefined>;
  if (o.help) return { help: true };
  if (o.passphrase !== undefined) return { usage: "the passphrase is not taken on the command line (it would stay in the shell history and the process list): type it when asked, or use --passphrase-file" };
  if (typeof o.relay !== "string") return { usage: "--relay URL is required" };
  if ((o.token === undefined) === (o["token-file"] === undefined)) return { usage: "give the admin token with --token TOKEN or --token-file FILE (one of them)" };
  if (typeof o[fileOption] !== "string") return { usage: `--${fileOption} FILE is required` };
  try {
    return {
      base: relayBase(o.relay),
      token: typeof o.token === "string" ? o.token : firstLine(o["token-file"] as string, "--token-file"),
      passphraseFile: o["passphrase-file"] as string | undefined,
      file: o[fileOption] as string,
    };
  } catch (e) {
    if (e instanceof CliError) return { usage: e.message };
    throw e;
  }
}

function describe(state: RelayState): string {
  return state.keyHash === null
    ? "the routing key (no identity: the relay's comes from the RELAY_* secrets)"
    : `the identity (keyHash ${base64url.encode(state.keyHash)}${state.identity?.caKey ? ", CA key included" : ""}) and the routing key`;
}

async function run(io: BackupIo, argv: string[], kind: "backup" | "restore", body: (c: Common) => Promise<void>): Promise<number> {
  const c = parse(argv, kind === "backup" ? "out" : "in");
  if ("help" in c) {
    io.out(`Usage:\n${BACKUP_USAGE}`);
    return 0;
  }
  if ("usage" in c) {
    io.err(`smp-relay ${kind}: ${c.usage}\n\nUsage:\n${BACKUP_USAGE}`);
    return 2;
  }
  try {
    await body(c);
    return 0;
  } catch (e) {
    if (e instanceof CliError || e instanceof BackupError) {
      io.err(`smp-relay ${kind}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** `smp-relay backup …` (argv after "backup"); 0 ok, 1 failure, 2 usage. */
export function runBackup(argv: string[], io: BackupIo = defaultIo): Promise<number> {
  return run(io, argv, "backup", async (c) => {
    if (existsSync(c.file)) throw new CliError(`${c.file} already exists: not overwriting it (choose another --out)`);
    const pass = await passphrase(io, c.passphraseFile, true);
    const { status, json } = await call(io, `${c.base}/backup`, c.token, null);
    if (status !== 200) throw new CliError(`the relay answered ${status}: ${errorOf(json)}`);
    let state: RelayState;
    try {
      state = await parseRelayState(json);
    } catch (e) {
      if (e instanceof BackupError) throw new CliError(`the relay's answer is not a valid state: ${e.message}`);
      throw e;
    }
    const doc = await encryptBackup(state, pass);
    // "wx" (O_EXCL): a file that appeared since the check above is not overwritten either.
    writeFileSync(c.file, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600, flag: "wx" });
    io.err(
      `Saved ${describe(state)} to ${c.file} (mode 0600), encrypted with the passphrase.\n` +
        "Keep the file and the passphrase apart, both safe: without the passphrase the backup cannot be opened.\n",
    );
  });
}

/** `smp-relay restore …` (argv after "restore"); 0 ok, 1 failure (409 included), 2 usage. */
export function runRestore(argv: string[], io: BackupIo = defaultIo): Promise<number> {
  return run(io, argv, "restore", async (c) => {
    if (!existsSync(c.file)) throw new CliError(`${c.file} not found`);
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(c.file, "utf8"));
    } catch {
      throw new CliError(`${c.file} is not an smp-relay backup (not JSON)`);
    }
    const state = await decryptBackup(doc, await passphrase(io, c.passphraseFile, false));
    const { status, json } = await call(io, `${c.base}/restore`, c.token, JSON.stringify(stateToJson(state)));
    if (status === 409) throw new CliError(`the relay refused: ${errorOf(json)}`);
    if (status !== 200) throw new CliError(`the relay answered ${status}: ${errorOf(json)}`);
    io.err(`Restored ${describe(state)}.\n`);
  });
}

/** A passphrase from the terminal, without echo. */
function ttyPassphrase(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new CliError("no terminal to ask the passphrase on: use --passphrase-file FILE"));
  return new Promise((resolve, reject) => {
    let buf = "";
    const done = (): void => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (s: string): void => {
      for (const ch of s) {
        if (ch === "\r" || ch === "\n") {
          done();
          resolve(buf);
          return;
        }
        if (ch === "\u0003" || ch === "\u0004") {
          done();
          reject(new CliError("interrupted"));
          return;
        }
        if (ch === "\u007f" || ch === "\b") buf = [...buf].slice(0, -1).join("");
        else buf += ch;
      }
    };
    process.stderr.write(prompt);
    stdin.setEncoding("utf8");
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}
