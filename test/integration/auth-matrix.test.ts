// Authorization matrix (issue 5): every command against every wrong credential, on a live relay.
//
// Commands: NEW, SUB, KEY, SKEY, SEND (to a secured queue), ACK, GET, OFF, DEL, QUE.
// Credentials, all sent by an attacking connection ("mallory"):
//   - no authorization;
//   - a wrong key: an X25519 authenticator made with a random key;
//   - another queue's key: the right kind of key (recipient or sender) of a different queue;
//   - the other role's key of the same queue: the sender key for recipient commands, the
//     recipient key for SEND/SKEY;
//   - the right key on the other role's id: recipient commands on the sender id, SEND/SKEY on
//     the recipient id (for NEW: an entity id where none is allowed);
//   - a transmission replayed from another session: the exact bytes built (and sent) for
//     connection A, authorized with the right key, sent on mallory's connection. X25519
//     authenticators are bound to the connection's session key (WIRE.md 5.3);
//   - an Ed25519 signature (64 bytes, over tForAuth) where the queue's key is X25519;
//   - an X25519 authenticator (80 bytes) where the queue's key is Ed25519 (a queue created with
//     an Ed25519 recipient key and secured with an Ed25519 sender key via KEY).
// Expected: ERR AUTH, except where WIRE.md 5.4 answers first: no authorization on a command that
// requires it is ERR CMD NO_AUTH (SEND's authorization is optional, so an unsigned SEND to a
// secured queue is ERR AUTH), and NEW with an entity id is ERR CMD HAS_AUTH.
//
// Every cell targets queues whose state would show a wrongly accepted command (ACK of the
// delivered msgId, KEY/SKEY of the key already set, SUB of a queue another connection holds),
// and after the matrix every queue is checked unchanged: INFO, messages, subscriber, keys.
import { beforeAll, describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import {
  ack,
  createQueue,
  decryptMessage,
  deliveries,
  getMessage,
  parseQueueInfo,
  queueInfo,
  secureQueue,
  sendMessage,
  subscribe,
  type DeliveryStream,
  type MessageBody,
  type QueueInfo,
  type RecipientQueue,
} from "../../src/client/queues.js";
import { decodePublicKey, encodePublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { generateSigningKey, type SigningKey } from "../../src/crypto/signing.js";
import { generateX25519, x25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import type { ClientCommand, ServerResponse } from "../../src/protocol/commands.js";
import { derEd, replayed, send, type Signer } from "../helpers/authWire.js";
import { relayForFile } from "../helpers/relayClients.js";

const EMPTY: Uint8Array = new Uint8Array(0);
const { client } = relayForFile();

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const derX = (k: X25519KeyPair): Uint8Array => encodePublicKey({ alg: "x25519", raw: k.publicKey });
const reply = (r: ServerResponse): string => (r.tag === "ERR" ? `ERR ${r.code}` : r.tag);

async function newCommand(rcvAuthKey: Uint8Array): Promise<ClientCommand> {
  return { tag: "NEW", rcvAuthKey, rcvDhKey: derX(await generateX25519()), basicAuth: null, subscribe: false, queueReqData: { mode: "M", link: null }, ntfCreds: null };
}

/** The next MSG for queue q on this stream (deliveries for other queues are skipped). */
async function nextFor(stream: DeliveryStream, q: { rcvId: Uint8Array }): Promise<MessageBody> {
  for (;;) {
    const d = await stream.read(15_000);
    if (d === null) throw new Error("delivery stream ended");
    if (Buffer.compare(d.rcvId, q.rcvId) !== 0) continue;
    if (d.type !== "MSG") throw new Error(`expected MSG, got ${d.type}`);
    if (d.message.quota) throw new Error("expected a message, got the quota marker");
    return d.message;
  }
}

// ---- The queues under attack ----

/** A queue with X25519 keys, secured with KEY. */
interface XQueue {
  q: RecipientQueue;
  sk: X25519KeyPair;
}

/** A queue whose recipient key and sender key are Ed25519. */
interface EdQueue {
  rcvId: Uint8Array;
  sndId: Uint8Array;
  rk: SigningKey;
  sk: SigningKey;
  skDer: Uint8Array;
  dhSecret: Uint8Array;
}

let own: SMPClient; // creates the queues; connection A of the replays
let holder: SMPClient; // holds P's subscription throughout
let sender: SMPClient;
let mallory: SMPClient; // every attack
let ownStream: DeliveryStream;
let holderStream: DeliveryStream;
let P: XQueue; // the target
let O: XQueue; // "another queue"
let E: EdQueue; // the target where signatures are expected
let pDelivered: MessageBody;
const before: { P?: QueueInfo; O?: QueueInfo; E?: QueueInfo } = {};

async function edInfo(conn: SMPClient): Promise<QueueInfo> {
  const r = await send(conn, E.rcvId, { tag: "QUE" }, { ed25519: E.rk });
  if (r.tag !== "INFO") throw new Error(`QUE on E: ${reply(r)}`);
  return parseQueueInfo(r.json);
}

// ---- The matrix ----

const COMMANDS = ["NEW", "SUB", "KEY", "SKEY", "SEND", "ACK", "GET", "OFF", "DEL", "QUE"] as const;
type Cmd = (typeof COMMANDS)[number];

const CREDENTIALS = [
  "no authorization",
  "a wrong key (random X25519)",
  "another queue's key",
  "the other role's key of the same queue",
  "the right key on the other role's id",
  "a transmission replayed from another session",
  "an Ed25519 signature where an X25519 authenticator is expected",
  "an X25519 authenticator where an Ed25519 signature is expected",
] as const;
type Cred = (typeof CREDENTIALS)[number];

/** WIRE.md 5.4 first (credential errors before any queue is touched), then ERR AUTH. */
function expected(cmd: Cmd, cred: Cred): string {
  if (cred === "no authorization") return cmd === "SEND" ? "ERR AUTH" : "ERR CMD NO_AUTH";
  if (cred === "the right key on the other role's id" && cmd === "NEW") return "ERR CMD HAS_AUTH";
  return "ERR AUTH";
}

type Role = "rcv" | "snd";
const roleOf = (cmd: Exclude<Cmd, "NEW">): Role => (cmd === "SEND" || cmd === "SKEY" ? "snd" : "rcv");
const keyOf = (x: XQueue, role: Role): Signer => ({ x25519: role === "snd" ? x.sk.privateKey : x.q.rcvAuthKey.privateKey });

/** The command as the target queue's rightful holder would send it. */
function commandFor(cmd: Exclude<Cmd, "NEW">, target: "P" | "E"): ClientCommand {
  switch (cmd) {
    case "KEY":
    case "SKEY":
      return { tag: cmd, senderKey: target === "P" ? derX(P.sk) : E.skDer };
    case "SEND":
      return { tag: "SEND", notify: true, body: text("from mallory") };
    case "ACK":
      return { tag: "ACK", msgId: target === "P" ? pDelivered.msgId : randomBytes(24) };
    default:
      return { tag: cmd };
  }
}

async function attempt(cmd: Cmd, cred: Cred): Promise<string> {
  if (cred === "a transmission replayed from another session") return replay(cmd);
  const randomX = async (): Promise<Signer> => ({ x25519: (await generateX25519()).privateKey });
  if (cmd === "NEW") {
    const k = await generateX25519();
    switch (cred) {
      case "no authorization":
        return reply(await send(mallory, EMPTY, await newCommand(derX(k)), null));
      case "a wrong key (random X25519)":
        return reply(await send(mallory, EMPTY, await newCommand(derX(k)), await randomX()));
      case "another queue's key":
        return reply(await send(mallory, EMPTY, await newCommand(derX(k)), keyOf(O, "rcv")));
      case "the other role's key of the same queue":
        return reply(await send(mallory, EMPTY, await newCommand(derX(k)), keyOf(P, "snd")));
      case "the right key on the other role's id":
        return reply(await send(mallory, P.q.rcvId, await newCommand(derX(k)), { x25519: k.privateKey }));
      case "an Ed25519 signature where an X25519 authenticator is expected":
        return reply(await send(mallory, EMPTY, await newCommand(derX(k)), { ed25519: await generateSigningKey("ed25519") }));
      case "an X25519 authenticator where an Ed25519 signature is expected":
        return reply(await send(mallory, EMPTY, await newCommand(await derEd(await generateSigningKey("ed25519"))), await randomX()));
    }
  }
  const role = roleOf(cmd);
  const rightId = (t: { rcvId: Uint8Array; sndId: Uint8Array }): Uint8Array => (role === "snd" ? t.sndId : t.rcvId);
  const otherId = (t: { rcvId: Uint8Array; sndId: Uint8Array }): Uint8Array => (role === "snd" ? t.rcvId : t.sndId);
  const onP = (entity: Uint8Array, signer: Signer): Promise<ServerResponse> => send(mallory, entity, commandFor(cmd, "P"), signer);
  switch (cred) {
    case "no authorization":
      return reply(await onP(rightId(P.q), null));
    case "a wrong key (random X25519)":
      return reply(await onP(rightId(P.q), await randomX()));
    case "another queue's key":
      return reply(await onP(rightId(P.q), keyOf(O, role)));
    case "the other role's key of the same queue":
      return reply(await onP(rightId(P.q), keyOf(P, role === "snd" ? "rcv" : "snd")));
    case "the right key on the other role's id":
      return reply(await onP(otherId(P.q), keyOf(P, role)));
    case "an Ed25519 signature where an X25519 authenticator is expected":
      return reply(await onP(rightId(P.q), { ed25519: await generateSigningKey("ed25519") }));
    case "an X25519 authenticator where an Ed25519 signature is expected":
      return reply(await send(mallory, rightId(E), commandFor(cmd, "E"), await randomX()));
  }
}

/**
 * The replay column. On a queue of its own, connection A (`own`) is the rightful holder; the
 * transmission is built for A with the right key, then sent on mallory's connection (refused),
 * on A (accepted: the bytes are good), and on mallory's again (refused). The queue then shows
 * A's command and only A's.
 */
async function replay(cmd: Cmd): Promise<string> {
  let entity = EMPTY;
  let command: ClientCommand;
  let key: Uint8Array;
  let success: string;
  let after: () => Promise<void> = async () => {};
  const fresh = (subscribe = false): Promise<RecipientQueue> => createQueue(own, { subscribe });
  if (cmd === "NEW") {
    const k = await generateX25519();
    command = await newCommand(derX(k));
    key = k.privateKey;
    success = "IDS";
  } else {
    const q = await fresh(cmd === "ACK");
    entity = q.rcvId;
    key = q.rcvAuthKey.privateKey;
    success = "OK";
    command = { tag: cmd } as ClientCommand;
    switch (cmd) {
      case "SUB":
        success = "SOK";
        // A subscription with no delivery thread pending is "noSub" upstream (getQueueInfo).
        after = async () => expect((await queueInfo(own, q)).qiSub?.qSubThread).toBe("noSub");
        break;
      case "KEY": {
        command = { tag: "KEY", senderKey: derX(await generateX25519()) };
        after = async () => expect((await queueInfo(own, q)).qiSnd).toBe(true);
        break;
      }
      case "SKEY": {
        const k = await generateX25519();
        entity = q.sndId;
        key = k.privateKey;
        command = { tag: "SKEY", senderKey: derX(k) };
        after = async () => expect((await queueInfo(own, q)).qiSnd).toBe(true);
        break;
      }
      case "SEND": {
        const s = await generateX25519();
        await secureQueue(own, q, derX(s));
        entity = q.sndId;
        key = s.privateKey;
        command = { tag: "SEND", notify: true, body: text("once") };
        after = async () => expect((await queueInfo(own, q)).qiSize).toBe(1);
        break;
      }
      case "ACK": {
        await sendMessage(sender, q.sndId, text("to be acknowledged"));
        command = { tag: "ACK", msgId: (await nextFor(ownStream, q)).msgId };
        after = async () => expect((await queueInfo(own, q)).qiSize).toBe(0);
        break;
      }
      case "GET":
        await sendMessage(sender, q.sndId, text("to get"));
        success = "MSG";
        break;
      case "OFF":
        after = async () => expect(sendMessage(sender, q.sndId, text("after OFF"))).rejects.toMatchObject({ code: "AUTH" });
        break;
      case "DEL":
        after = async () => expect(queueInfo(own, q)).rejects.toMatchObject({ code: "AUTH" });
        break;
      case "QUE":
        success = "INFO";
        break;
    }
  }
  const first = await replayed(own, mallory, entity, command, { x25519: key }, success, (got, want, what) => expect(got, what).toBe(want));
  await after();
  return first;
}

describe("authorization matrix", () => {
  beforeAll(async () => {
    [own, holder, sender, mallory] = await Promise.all([client(), client(), client(), client()]);
    ownStream = deliveries(own);
    holderStream = deliveries(holder);

    const xQueue = async (bodies: string[]): Promise<XQueue> => {
      const q = await createQueue(own, { subscribe: false });
      const sk = await generateX25519();
      await secureQueue(own, q, derX(sk));
      for (const b of bodies) await sendMessage(sender, q.sndId, text(b), { senderKey: sk });
      return { q, sk };
    };
    P = await xQueue(["p1", "p2", "p3"]);
    O = await xQueue(["o1"]);
    // holder subscribes to P and has p1 delivered, not acknowledged.
    await subscribe(holder, P.q);
    pDelivered = await nextFor(holderStream, P.q);
    expect(str(pDelivered.body)).toBe("p1");
    before.P = await queueInfo(holder, P.q);
    before.O = await queueInfo(own, O.q);

    // E: created with an Ed25519 recipient key (NEW signed with it), secured with an Ed25519
    // sender key, one message sent with an Ed25519 signature.
    const rk = await generateSigningKey("ed25519");
    const dh = await generateX25519();
    const ids = await send(
      own,
      EMPTY,
      { tag: "NEW", rcvAuthKey: await derEd(rk), rcvDhKey: derX(dh), basicAuth: null, subscribe: false, queueReqData: { mode: "M", link: null }, ntfCreds: null },
      { ed25519: rk },
    );
    if (ids.tag !== "IDS") throw new Error(`NEW with an Ed25519 key: ${reply(ids)}`);
    const srv = decodePublicKey(ids.srvDhKey)!;
    const sk = await generateSigningKey("ed25519");
    E = { rcvId: ids.rcvId, sndId: ids.sndId, rk, sk, skDer: await derEd(sk), dhSecret: await x25519(dh.privateKey, srv.raw) };
    expect(reply(await send(own, E.rcvId, { tag: "KEY", senderKey: E.skDer }, { ed25519: rk }))).toBe("OK");
    expect(reply(await send(sender, E.sndId, { tag: "SEND", notify: true, body: text("e1") }, { ed25519: sk }))).toBe("OK");
    before.E = await edInfo(own);
    expect(before.E.qiSnd).toBe(true);
    expect(before.E.qiSize).toBe(1);

    // The right credentials work from mallory's connection too (the matrix is not refusing
    // everything): a read-only command on each target.
    expect(reply(await send(mallory, P.q.rcvId, { tag: "QUE" }, keyOf(P, "rcv")))).toBe("INFO");
    expect(reply(await send(mallory, E.rcvId, { tag: "QUE" }, { ed25519: E.rk }))).toBe("INFO");
    expect(reply(await send(mallory, P.q.sndId, { tag: "SKEY", senderKey: derX(P.sk) }, keyOf(P, "snd")))).toBe("OK");
    expect(reply(await send(mallory, E.sndId, { tag: "SKEY", senderKey: E.skDer }, { ed25519: E.sk }))).toBe("OK");
    expect(reply(await send(mallory, P.q.rcvId, { tag: "KEY", senderKey: derX(P.sk) }, keyOf(P, "rcv")))).toBe("OK");
  });

  const cells = COMMANDS.flatMap((cmd) => CREDENTIALS.map((cred) => [cmd, cred, expected(cmd, cred)] as const));

  it.each(cells)("%s with %s → %s", async (cmd, cred, want) => {
    expect(await attempt(cmd, cred)).toBe(want);
  });

  describe("after the matrix, every queue is unchanged", () => {
    it("P: same INFO, its subscriber undisturbed, messages in order, keys working, not suspended", async () => {
      expect(await queueInfo(holder, P.q)).toEqual(before.P);
      // No END, DELD or extra MSG reached the subscriber.
      expect(holderStream.pending).toBe(0);
      const bodies: string[] = [];
      let m: MessageBody | null = pDelivered;
      while (m) {
        bodies.push(str(m.body));
        const next = await ack(holder, P.q, m.msgId);
        if (next === null) m = null;
        else {
          const pushed = await nextFor(holderStream, P.q);
          expect(pushed.msgId).toEqual(next.msgId);
          m = pushed;
        }
      }
      expect(bodies).toEqual(["p1", "p2", "p3"]);
      await sendMessage(sender, P.q.sndId, text("p after"), { senderKey: P.sk });
      const after = await nextFor(holderStream, P.q);
      expect(str(after.body)).toBe("p after");
      expect(await ack(holder, P.q, after.msgId)).toBeNull();
    });

    it("O: same INFO, its message, keys working", async () => {
      expect(await queueInfo(own, O.q)).toEqual(before.O);
      const m = await getMessage(own, O.q);
      expect(m && !m.quota && str(m.body)).toBe("o1");
      expect(await ack(own, O.q, m!.msgId)).toBeNull();
      await sendMessage(sender, O.q.sndId, text("o after"), { senderKey: O.sk });
      const after = await getMessage(own, O.q);
      expect(after && !after.quota && str(after.body)).toBe("o after");
    });

    it("E (Ed25519 keys): same INFO, its message, keys working", async () => {
      expect(await edInfo(own)).toEqual(before.E);
      const got = await send(own, E.rcvId, { tag: "GET" }, { ed25519: E.rk });
      if (got.tag !== "MSG") throw new Error(`GET on E: ${reply(got)}`);
      const m = decryptMessage(E, got.msgId, got.body);
      expect(!m.quota && str(m.body)).toBe("e1");
      expect(Buffer.from(got.msgId).toString("base64")).toBe(before.E!.qiMsg?.msgId);
      expect(reply(await send(own, E.rcvId, { tag: "ACK", msgId: got.msgId }, { ed25519: E.rk }))).toBe("OK");
      expect(reply(await send(sender, E.sndId, { tag: "SEND", notify: false, body: text("e after") }, { ed25519: E.sk }))).toBe("OK");
      expect((await edInfo(own)).qiSize).toBe(1);
    });

    it("mallory's connection itself is still served", async () => {
      await mallory.ping();
    });
  });
});
