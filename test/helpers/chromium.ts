// Which Chromium the browser tests drive (playwright-core never downloads one): CHROMIUM_PATH,
// else Debian's /usr/bin/chromium, else the first Chromium or Chrome on PATH. Without one the
// tests are skipped with one loud line, except in CI (CI set), where .ci/run installs Chromium
// and a missing one must fail the run instead of quietly skipping.
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export const CHROMIUM_ENV = "CHROMIUM_PATH";
const DEBIAN = "/usr/bin/chromium";
const ON_PATH = ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The Chromium to launch, or null. A CHROMIUM_PATH that is not executable counts as none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const named = env[CHROMIUM_ENV];
  if (named !== undefined && named !== "") return executable(named) ? named : null;
  if (executable(DEBIAN)) return DEBIAN;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    for (const name of ON_PATH) if (executable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** True when running under CI, where a missing browser is a failure, not a skip. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}

/** The one line printed when browser tests are skipped; .ci/run also looks for it. */
export const SKIP_MARK = "SKIPPED (no Chromium)";

export function skipLine(file: string, env: NodeJS.ProcessEnv = process.env): string {
  const why = env[CHROMIUM_ENV] ? `${CHROMIUM_ENV}=${env[CHROMIUM_ENV]} is not an executable` : `no ${CHROMIUM_ENV}, no ${DEBIAN}, no ${ON_PATH.join("/")} on PATH`;
  return `⚠️  ${SKIP_MARK}: the browser tests in ${file} did not run (${why}). To run them: apt-get install chromium, or ${CHROMIUM_ENV}=/path/to/chromium npm test`;
}
