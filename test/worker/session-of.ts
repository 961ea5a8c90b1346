// The Session object serving one of our clients, found by its session id: test files run side by
// side against the same Durable Object namespace, so "the object that appeared after connecting"
// may be another file's.
import { env, listDurableObjectIds, runInDurableObject, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { connect, type SMPClient } from "../../src/client/client.js";
import { parseAddress } from "../../src/protocol/address.js";
import type { SessionDO } from "../../src/server/session.js";
import { readState } from "../../src/server/sessionState.js";
import { PoolSocket } from "./pool-socket.js";

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Among the Session objects not in `known`, the ones whose socket carries the client's session id.
 * Others are looked into only when more than one appeared (looking wakes them, which would
 * upset another file's eviction test).
 */
export async function sessionsOf(client: SMPClient, known: Set<string>): Promise<DurableObjectStub<SessionDO>[]> {
  const added = (await listDurableObjectIds(env.SESSION)).filter((id) => !known.has(id.toString()));
  if (added.length <= 1) return added.map((id) => env.SESSION.get(id));
  const found: DurableObjectStub<SessionDO>[] = [];
  for (const id of added) {
    const stub = env.SESSION.get(id);
    const mine = await runInDurableObject(stub, (_instance, state) =>
      state.getWebSockets().some((ws) => {
        const s = readState(ws);
        return s !== null && same(s.sessionId, client.sessionId);
      }),
    );
    if (mine) found.push(stub);
  }
  return found;
}

/** Connects our client to the relay and finds the Session object the Worker created for it. */
export async function openWithSession(): Promise<{ client: SMPClient; session: DurableObjectStub<SessionDO> }> {
  const health = (await (await SELF.fetch("http://relay.test/health")).json()) as { address: string };
  const known = new Set((await listDurableObjectIds(env.SESSION)).map((id) => id.toString()));
  const client = await connect("http://relay.test/", parseAddress(health.address).keyHash, { WebSocket: PoolSocket, pingInterval: 0 });
  const added = await sessionsOf(client, known);
  expect(added).toHaveLength(1);
  return { client, session: added[0]! };
}
