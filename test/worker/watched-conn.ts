// A client connection in a workerd test that records what arrives for a queue, and the
// recipient commands sent on it with their exact replies (delivery-inputs, delivery-edges).
import type { SMPClient } from "../../src/client/client.js";
import { decryptMessage, register, type RecipientQueue } from "../../src/client/queues.js";
import type { ClientCommand, ServerResponse } from "../../src/protocol/commands.js";
import { hex } from "../../src/protocol/encoding.js";
import type { SessionDO } from "../../src/server/session.js";
import { openWithSession } from "./session-of.js";

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

export interface Conn {
  client: SMPClient;
  session: DurableObjectStub<SessionDO>;
  /**
   * What arrived for the queue, in order: "MSG <body>" (pushed, or as the reply to ACK or GET:
   * the client library hands both to its listeners), "END", "DELD".
   */
  pushes: string[];
}

/** Polls until `ready()` holds; fails after `ms` saying what was awaited. */
export async function until(what: string, ready: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function open(q?: RecipientQueue): Promise<Conn> {
  const { client, session } = await openWithSession();
  const c: Conn = { client, session, pushes: [] };
  if (q) watch(c, q);
  return c;
}

/** Records the connection's deliveries and pushes for `q`. */
export function watch(c: Conn, q: RecipientQueue): void {
  register(c.client, q);
  c.client.onPush((p) => {
    if (hex(p.entityId) !== hex(q.rcvId)) return;
    const r = p.response;
    if (r.tag === "MSG") c.pushes.push(`MSG ${bodyOf(q, r)}`);
    else if (r.tag === "END" || r.tag === "DELD") c.pushes.push(r.tag);
  });
}

export function bodyOf(q: RecipientQueue, r: ServerResponse): string {
  if (r.tag !== "MSG") return r.tag === "ERR" ? `ERR ${r.code}` : r.tag;
  const m = decryptMessage(q, r.msgId, r.body);
  return m.quota ? "QUOTA" : text(m.body);
}

/** A recipient command as sent, with its exact reply (ERR included). */
export function rcv(c: Conn, q: RecipientQueue, cmd: ClientCommand): Promise<ServerResponse> {
  return c.client.request(q.rcvId, cmd, { x25519PrivateKey: q.rcvAuthKey.privateKey });
}

/** The reply as text: "OK", "SOK", "MSG <body>", "ERR <code>". */
export const said = (q: RecipientQueue, r: ServerResponse): string => (r.tag === "MSG" ? `MSG ${bodyOf(q, r)}` : r.tag === "ERR" ? `ERR ${r.code}` : r.tag);

/** Closes those still open. */
export const closeAll = (...cs: Conn[]): void => cs.forEach((c) => c.client.isOpen && c.client.close());
