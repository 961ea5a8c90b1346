// Short-link commands on the wire, built by hand (not through src/client/links.ts) so that the
// relay's side of WIRE.md 6.13a is tested against its own reading of the protocol: NEW with link
// data needs a chosen corrId, and the matrix needs transmissions the client library would refuse.
import type { SMPClient } from "../../src/client/client.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { clientSenderId, contactLinkId } from "../../src/crypto/linkIds.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateX25519, x25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import type { ClientCommand, ServerResponse } from "../../src/protocol/commands.js";
import { outcome, send } from "./authWire.js";

export const derX = (k: X25519KeyPair): Uint8Array => encodePublicKey({ alg: "x25519", raw: k.publicKey });
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);
export { outcome };

/** Sends one command with this corrId (random by default), authorized with an X25519 key or not at all. */
export function sendAs(conn: SMPClient, entityId: Uint8Array, cmd: ClientCommand, key: X25519KeyPair | null, corrId?: Uint8Array): Promise<ServerResponse> {
  return send(conn, entityId, cmd, key === null ? null : { x25519: key.privateKey }, corrId);
}

/** A queue made with link data, as its recipient keeps it. */
export interface LinkedQueue {
  rcvId: Uint8Array;
  sndId: Uint8Array;
  linkId: Uint8Array;
  rcvKey: X25519KeyPair;
  dhKey: X25519KeyPair;
  dhSecret: Uint8Array;
  fixedData: Uint8Array;
}

export interface LinkedQueueOptions {
  mode: "M" | "C";
  fixedData?: Uint8Array;
  userData?: Uint8Array;
  /** Contact addresses: the link key (random by default); its link id is derived from it. */
  linkKey?: Uint8Array;
  /** Another link id than the derived one (to reuse one, say). */
  linkId?: Uint8Array;
  /** Another sender id than SHA3-384(corrId)[0..24]. */
  sndId?: Uint8Array;
  corrId?: Uint8Array;
  subscribe?: boolean;
}

/** NEW with link data. The reply: IDS (with the queue) or anything else, as is. */
export async function newLinked(conn: SMPClient, o: LinkedQueueOptions): Promise<{ reply: ServerResponse; queue: LinkedQueue | null }> {
  const rcvKey = await generateX25519();
  const dhKey = await generateX25519();
  const corrId = o.corrId ?? randomBytes(24);
  const fixedData = o.fixedData ?? text("fixed data");
  const linkId = o.mode === "C" ? (o.linkId ?? contactLinkId(o.linkKey ?? randomBytes(32))) : null;
  const cmd: ClientCommand = {
    tag: "NEW",
    rcvAuthKey: derX(rcvKey),
    rcvDhKey: derX(dhKey),
    basicAuth: null,
    subscribe: o.subscribe ?? true,
    queueReqData: { mode: o.mode, link: { linkId, sndId: o.sndId ?? clientSenderId(corrId), fixedData, userData: o.userData ?? text("user data") } },
    ntfCreds: null,
  };
  const reply = await sendAs(conn, new Uint8Array(0), cmd, rcvKey, corrId);
  if (reply.tag !== "IDS" || reply.linkId === null) return { reply, queue: null };
  const dhSecret = await x25519(dhKey.privateKey, reply.srvDhKey.subarray(12));
  return { reply, queue: { rcvId: reply.rcvId, sndId: reply.sndId, linkId: reply.linkId, rcvKey, dhKey, dhSecret, fixedData } };
}

/** NEW with link data that must succeed: the queue, or a throw naming the reply. */
export async function created(conn: SMPClient, o: LinkedQueueOptions): Promise<LinkedQueue> {
  const { reply, queue } = await newLinked(conn, o);
  if (queue === null) throw new Error(`NEW failed: ${outcome(reply)}`);
  return queue;
}
