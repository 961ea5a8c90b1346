// Backup and restore through the admin sub-app (adminIdentity.ts, mounted here without auth, as
// admin.ts will mount it behind the token): export, wipe the Identity object, restore, and the
// address and queue ids are the same; a relay that has an identity refuses a restore.
import { env, runInDurableObject } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { base64url } from "../../src/protocol/base64.js";
import { adminIdentity } from "../../src/server/adminIdentity.js";
import { deserializeIdentity } from "../../src/server/identity.js";
import { parseRelayState, type RelayStateJson } from "../../src/server/identityBackup.js";
import { forgetCachedIdentity, loadIdentity, loadQueueIds } from "../../src/server/identityStore.js";

const app = new Hono<{ Bindings: Env }>().route("/admin/identity", adminIdentity);
const post = (path: string, body?: unknown): Promise<Response> =>
  Promise.resolve(
    app.request(`https://relay.example.com/admin/identity${path}`, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) }, env),
  );

describe("identity backup and restore (workerd)", () => {
  it("export → wipe the Identity object → restore: same keyHash, and an old queue id still opens", async () => {
    forgetCachedIdentity();
    const before = await loadIdentity(env, "relay.example.com");
    const { rcvId, queue } = (await loadQueueIds(env)).newQueue();

    const res = await post("/backup");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const state = (await res.json()) as RelayStateJson;
    expect(state.identity?.caKey).toBeDefined();
    const parsed = await parseRelayState(state);
    expect(parsed.keyHash).toEqual(before.keyHash);

    // A relay with an identity refuses, and nothing changes.
    const refused = await post("/restore", state);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { existing: string[] }).existing).toEqual(["identity", "routing key"]);

    const stub = env.IDENTITY.getByName("relay");
    await runInDurableObject(stub, async (_i, s) => {
      await s.storage.deleteAll();
    });
    forgetCachedIdentity();
    // deleteAll drops the tables: reset the object, so that a fresh instance makes them again, as
    // an object whose storage was lost would.
    await runInDurableObject(stub, (_i, s) => {
      s.abort();
    }).catch(() => {});
    const empty = env.IDENTITY.getByName("relay");
    expect(await runInDurableObject(empty, (_i, s) => s.storage.sql.exec("SELECT COUNT(*) AS n FROM identity").one().n)).toBe(0);

    const ok = await post("/restore", state);
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(await ok.json()).toEqual({ restored: ["identity", "routing key"], keyHash: base64url.encode(before.keyHash) });

    forgetCachedIdentity();
    const after = await loadIdentity(env, "relay.example.com");
    expect(after.keyHash).toEqual(before.keyHash);
    expect(after.onlineCert).toEqual(before.onlineCert);
    expect((await loadQueueIds(env)).open(rcvId)).toEqual({ queue, kind: "rcv" });
    const stored = await empty.exportState("relay.example.com", true);
    expect((await deserializeIdentity(stored.identity)).keyHash).toEqual(before.keyHash);
    expect(stored.identity?.caKey).toEqual(state.identity?.caKey);

    // And once restored, a second restore is refused.
    expect((await post("/restore", state)).status).toBe(409);
  });

  it("a body that is not a valid state is 400, and writes nothing", async () => {
    const state = (await (await post("/backup")).json()) as RelayStateJson;
    for (const bad of [{ ...state, routingKey: "AAAA" }, { ...state, format: "x" }, "nope"]) {
      const r = await post("/restore", bad);
      expect(r.status).toBe(400);
    }
    const r = await app.request("https://relay.example.com/admin/identity/restore", { method: "POST", body: "{" }, env);
    expect(r.status).toBe(400);
  });
});
