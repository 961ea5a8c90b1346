// A connection's per-queue entries live in its socket attachment, and spill into the Session
// object's SQLite storage only past what the attachment holds (src/server/connQueues.ts): a
// reconnect's SUBs write no row in the Session, a connection with very many queues still works
// through hibernation, and its storage is freed when it closes.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createQueue, sendMessage, subscribe, type RecipientQueue } from "../../src/client/queues.js";
import { ATTACHED_MAX } from "../../src/server/connEntries.js";
import { SessionDO } from "../../src/server/session.js";
import { readState } from "../../src/server/sessionState.js";
import { evict } from "./objects.js";
import { open, until, watch, closeAll } from "./watched-conn.js";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The Session's SQLite tables (other than the runtime's own) and its attachment's packed entries, in bytes. */
async function sessionStorage(session: DurableObjectStub<SessionDO>): Promise<{ tables: string[]; rows: number; attached: number }> {
  return runInDurableObject(session, (_i, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'")
      .toArray()
      .map((r) => r.name);
    const rows = tables.includes("conn_queues") ? state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM conn_queues").one().n : 0;
    const s = readState(state.getWebSockets()[0]!);
    return { tables, rows, attached: s?.phase === "open" ? (s.conns?.length ?? 0) : -1 };
  });
}

describe("a connection's entries", () => {
  it("a few subscriptions: in the attachment, no storage in the Session", async () => {
    const owner = await open();
    const qs: RecipientQueue[] = [];
    for (let i = 0; i < 5; i++) qs.push(await createQueue(owner.client, { subscribe: true }));
    const st = await sessionStorage(owner.session);
    expect(st.tables).toEqual([]);
    expect(st.attached).toBe(5 * 17);
    closeAll(owner);
  });

  it("120 subscriptions: those past the attachment spill into rows, all deliver after an eviction, and closing frees the storage", async () => {
    const owner = await open();
    const sender = await open();
    // Made on two other connections (NEW is limited to 60 a minute per connection), subscribed on one.
    const makers = [await open(), await open()];
    const qs: RecipientQueue[] = [];
    for (let i = 0; i < 120; i++) {
      const q = await createQueue(makers[i % 2]!.client, { subscribe: false });
      qs.push(q);
      watch(owner, q);
    }
    for (const q of qs) await subscribe(owner.client, q);
    const st = await sessionStorage(owner.session);
    expect(st.attached).toBeLessThanOrEqual(ATTACHED_MAX);
    expect(st.attached / 17 + st.rows).toBe(120);
    expect(st.rows).toBeGreaterThan(0);

    await evict(owner.session, (state) => new SessionDO(state, env));
    // The first and the last subscribed (attached and spilled) both get their messages pushed.
    for (const q of [qs[0]!, qs[119]!]) await sendMessage(sender.client, q.sndId, text(`to ${qs.indexOf(q)}`));
    await until("both pushes", () => owner.pushes.length === 2);
    expect(owner.pushes.sort()).toEqual(["MSG to 0", "MSG to 119"]);

    const session = owner.session;
    owner.client.close();
    for (let i = 0; i < 100; i++) {
      const tables = await runInDurableObject(session, (_i, state) =>
        state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").toArray().length,
      );
      if (tables === 0) break;
      await new Promise((r) => setTimeout(r, 20));
      if (i === 99) throw new Error("the closed Session still holds its table");
    }
    closeAll(sender, ...makers);
  });
});
