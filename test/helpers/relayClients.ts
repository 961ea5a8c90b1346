// One local relay per test file and the client connections its tests open: started before the
// file's tests, every connection closed and the relay stopped after them.
import { afterAll, beforeAll } from "vitest";
import WebSocket from "ws";
import { connect, type Push, type SMPClient } from "../../src/client/client.js";
import type { WebSocketConstructor } from "../../src/client/socket.js";
import { startLocalTestRelay, type LocalStartOptions, type TestRelay } from "./localRelay.js";

export const WS = WebSocket as unknown as WebSocketConstructor;

export interface FileRelay {
  /** The relay (after beforeAll). */
  relay(): TestRelay;
  /** A new connection to the relay, closed after the file's tests. */
  client(): Promise<SMPClient>;
}

/** Registers the file's beforeAll/afterAll; call at the top level of a test file. `vars`: the relay's settings. */
export function relayForFile(vars?: LocalStartOptions["vars"]): FileRelay {
  let relay: TestRelay | undefined;
  const opened: SMPClient[] = [];
  beforeAll(async () => {
    relay = await startLocalTestRelay({ vars });
  });
  afterAll(async () => {
    for (const c of opened) if (c.isOpen) c.close();
    await relay?.stop();
  });
  return {
    relay: () => {
      if (relay === undefined) throw new Error("the relay is not started yet (use it inside a test)");
      return relay;
    },
    client: async () => {
      const r = relay!;
      const c = await connect(r.wsUrl, r.keyHash, { WebSocket: WS, pingInterval: 0, commandTimeout: 20_000 });
      opened.push(c);
      return c;
    },
  };
}

/** Collects a connection's pushes; `next()` waits for the next one. */
export function pushesOf(c: SMPClient): { next(): Promise<Push> } {
  const buf: Push[] = [];
  const waiting: ((p: Push) => void)[] = [];
  c.onPush((p) => {
    const w = waiting.shift();
    if (w) w(p);
    else buf.push(p);
  });
  return { next: () => (buf.length > 0 ? Promise.resolve(buf.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
}
