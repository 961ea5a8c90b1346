// Deployment: `wrangler deploy --dry-run` builds the Worker without an account or network;
// wrangler.jsonc stays within the free plan (SQLite-backed Durable Objects only, no paid-only
// bindings); the deploy page's inputs are declared (.dev.vars.example) and described
// (package.json "cloudflare.bindings"); the README's deploy button points at the repository,
// and its Node version and configuration table match engines and the config.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unstable_getDurableObjectClassNameToUseSQLiteMap, unstable_readConfig } from "wrangler";
import { parseDotenv } from "../../src/cli/dotenv.js";
import { readConfig } from "../../src/server/config.js";

const ROOT = resolve(import.meta.dirname, "../..");
const out = mkdtempSync(join(tmpdir(), "smp-relay-deploy-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
  engines: { node: string };
  repository: { url: string };
  cloudflare?: { bindings?: Record<string, { description?: string }> };
};

describe("deploy", () => {
  it("wrangler deploy --dry-run builds the bundle offline, without an account", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };
    delete env.CLOUDFLARE_API_TOKEN;
    delete env.CLOUDFLARE_ACCOUNT_ID;
    const r = spawnSync(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
      cwd: ROOT,
      env,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("--dry-run: exiting now.");
    const bundle = join(out, "worker.js");
    expect(existsSync(bundle)).toBe(true);
    expect(statSync(bundle).size).toBeGreaterThan(10_000);
    const code = readFileSync(bundle, "utf8");
    for (const cls of ["SessionDO", "QueueDO", "IdentityDO", "IdIndexDO", "StatsDO"]) expect(code).toContain(cls);
    expect(pkg.scripts.deploy).toBe("wrangler deploy");
  });

  it("wrangler.jsonc is free-plan safe: SQLite-backed Durable Objects only, no paid-only bindings", () => {
    const config = unstable_readConfig({ config: join(ROOT, "wrangler.jsonc") }, { hideWarnings: true });
    expect(config.migrations.length).toBeGreaterThan(0);
    for (const m of config.migrations) {
      // new_classes would make KV-backed objects, which the free plan refuses.
      expect(Object.keys(m).filter((k) => m[k as keyof typeof m] !== undefined).sort()).toEqual(["new_sqlite_classes", "tag"]);
    }
    const sqlite = unstable_getDurableObjectClassNameToUseSQLiteMap(config.migrations);
    const classes = config.durable_objects.bindings.map((b: { class_name: string }) => b.class_name).sort();
    expect(classes).toEqual(["IdIndexDO", "IdentityDO", "QueueDO", "SessionDO", "StatsDO"]);
    for (const c of classes) expect(sqlite.get(c), c).toBe(true);

    // Only Durable Objects and plain vars: nothing that needs a paid plan or another resource.
    const empty = [
      "kv_namespaces", "r2_buckets", "d1_databases", "vectorize", "hyperdrive", "analytics_engine_datasets",
      "dispatch_namespaces", "mtls_certificates", "services", "pipelines", "workflows", "send_email", "tail_consumers",
    ] as const;
    for (const k of empty) expect(config[k] ?? [], k).toEqual([]);
    expect(config.queues.producers ?? []).toEqual([]);
    expect(config.queues.consumers ?? []).toEqual([]);
    expect(config.ai).toBeUndefined();
    expect(config.browser).toBeUndefined();
    expect(config.limits?.cpu_ms).toBeUndefined(); // CPU limits above the default are paid-only
    expect(config.logpush).toBeFalsy();
    // Workers Logs (free plan too): errors and console output kept for the dashboard, but no
    // invocation logs, which would keep client IPs.
    expect(config.observability?.enabled).toBe(true);
    expect(config.observability?.logs?.invocation_logs).toBe(false);
    // One config file (wrangler takes the first of wrangler.json, .jsonc, .toml): no stale copy.
    expect(existsSync(join(ROOT, "wrangler.toml"))).toBe(false);
    // Plain string vars only, and the relay accepts them as they are.
    for (const v of Object.values(config.vars)) expect(typeof v).toBe("string");
    expect(() => readConfig(config.vars as Record<string, string>)).not.toThrow();
  });

  it("declares the secrets (.dev.vars.example, empty values) and describes every var and secret", () => {
    const example = parseDotenv(readFileSync(join(ROOT, ".dev.vars.example"), "utf8"));
    expect(Object.keys(example).sort()).toEqual(["ADMIN_TOKEN", "QUEUE_PASSWORD", "RELAY_CA_CERT", "RELAY_ONLINE_CERT", "RELAY_ONLINE_KEY", "RELAY_ROUTING_KEY"]);
    for (const [k, v] of Object.entries(example)) expect(v, k).toBe("");
    const config = unstable_readConfig({ config: join(ROOT, "wrangler.jsonc") }, { hideWarnings: true });
    const described = pkg.cloudflare?.bindings ?? {};
    for (const name of [...Object.keys(config.vars), ...Object.keys(example), ...config.durable_objects.bindings.map((b: { name: string }) => b.name)]) {
      expect(described[name]?.description?.length ?? 0, name).toBeGreaterThan(20);
    }
  });

  it("the README agrees with engines on the Node version and lists every setting in its configuration table", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const m = /^>=(\d+)\.(\d+)\.0$/.exec(pkg.engines.node);
    expect(m, pkg.engines.node).not.toBeNull();
    expect(readme).toContain(`Node ${m![1]}.${m![2]} or later`);
    const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Deploy to Cloudflare"));
    const config = unstable_readConfig({ config: join(ROOT, "wrangler.jsonc") }, { hideWarnings: true });
    const example = parseDotenv(readFileSync(join(ROOT, ".dev.vars.example"), "utf8"));
    for (const name of [...Object.keys(config.vars), ...Object.keys(example), "RELAY_DEBUG_METRICS"]) {
      expect(table, name).toMatch(new RegExp(`^\\|[^\\n]*\`${name}\``, "m"));
    }
  });

  it("the README's Deploy to Cloudflare button points at the repository", () => {
    const repo = pkg.repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toContain(
      `[![Deploy to Cloudflare](https://deploy.workers.cloudflare.com/button)](https://deploy.workers.cloudflare.com/?url=${repo})`,
    );
  });
});
