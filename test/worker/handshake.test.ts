// The handshake writes no storage (its deadline is a timer and a time in the attachment, not an
// alarm), and the deadline still holds when the timer was lost with an eviction.
import { env, listDurableObjectIds, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BLOCK_SIZE } from "../../src/protocol/padding.js";
import { SessionDO } from "../../src/server/session.js";
import { readState, writeState } from "../../src/server/sessionState.js";
import { evict } from "./objects.js";
import { openWithSession } from "./session-of.js";
import { until } from "./watched-conn.js";

describe("the handshake", () => {
  it("leaves the Session object without storage and without an alarm", async () => {
    const { client, session } = await openWithSession();
    await client.ping();
    const { tables, alarm } = await runInDurableObject(session, async (_i, state) => ({
      tables: state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").toArray().length,
      alarm: await state.storage.getAlarm(),
    }));
    expect(tables).toBe(0);
    expect(alarm).toBeNull();
    client.close();
  });

  it("a hello after the deadline closes the connection (1008), also when the timer went with an eviction", async () => {
    const known = new Set((await listDurableObjectIds(env.SESSION)).map((id) => id.toString()));
    const res = await SELF.fetch("http://relay.test/", { headers: { Upgrade: "websocket" } });
    const ws = res.webSocket!;
    const frames: ArrayBuffer[] = [];
    let closed: { code: number; reason: string } | null = null;
    ws.addEventListener("message", (e) => frames.push(e.data as ArrayBuffer));
    ws.addEventListener("close", (e) => (closed = { code: e.code, reason: e.reason }));
    ws.accept();
    await until("the server hello", () => frames.length === 1);
    const added = (await listDurableObjectIds(env.SESSION)).filter((id) => !known.has(id.toString()));
    expect(added).toHaveLength(1);
    const session = env.SESSION.get(added[0]!);
    // The object loses its memory (and the timer), and its deadline passes.
    await evict(session, (state) => new SessionDO(state, env));
    await runInDurableObject(session, (_i, state) => {
      const sock = state.getWebSockets()[0]!;
      const s = readState(sock);
      if (s?.phase !== "handshake") throw new Error("not in the handshake");
      writeState(sock, { ...s, deadline: Date.now() - 1 });
    });
    ws.send(new Uint8Array(BLOCK_SIZE));
    await until("the close", () => closed !== null);
    expect(closed).toEqual({ code: 1008, reason: "handshake timeout" });
  });
});
