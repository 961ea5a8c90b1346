// Authorization matrix for short links (WIRE.md 5.4, 6.13a; issue 12), on a live relay: the
// approach of auth-matrix.test.ts, for the commands that reach a queue through a link or a
// client-chosen id.
//
// Commands and the queue each attacks:
//   - LSET, LDEL, RKEY: recipient commands, entity = rcvId; on C, a contact address (client-chosen
//     link id and sender id);
//   - LKEY: entity = link id, authorized by the key it carries; on I, an unsecured one-time
//     invitation (relay-sealed link id, client-chosen sender id);
//   - LGET: entity = link id, no authorization allowed; on C;
//   - SEND: entity = the client-chosen sender id; on S, an invitation secured with LKEY (its link
//     data still there until the first message).
// Credentials, all sent by an attacking connection ("mallory"), as in auth-matrix.test.ts:
//   - no authorization;
//   - a wrong key: an X25519 authenticator by a random key (LKEY: carrying one key, authorized
//     by another);
//   - another queue's key: O's recipient key (O, another contact address); for LKEY and SEND the
//     sender key of S2, another secured invitation;
//   - the other role's key: the sender key where the recipient's is due and the other way round
//     (LDEL on S with S's sender key; LKEY authorized by I's recipient key; LGET signed by C's
//     recipient key; SEND with S's recipient key);
//   - the right key on another id kind: LSET/LDEL/RKEY on the sender id and the link id, LKEY on
//     the rcvId and the sender id, LGET (unsigned) on the rcvId and the sender id, SEND on the
//     rcvId and the link id (of S with its key, and unsigned of C);
//   - a transmission replayed from another session (on a queue of its own, see replay());
//   - an Ed25519 signature where the key is X25519;
//   - an X25519 authenticator where the key is Ed25519: CE, a contact address whose recipient keys
//     RKEY replaced with an Ed25519 key (authorized by its old X25519 key); LKEY carrying an
//     Ed25519 key; SE, an invitation secured by LKEY with an Ed25519 key.
// Cells that do not apply (see APPLIES): LSET and RKEY with the other role's key (the queues they
// act on have no sender key; a secured invitation refuses both with any key), LGET replayed (it
// carries no authorization to bind to a session) and LGET with an X25519 authenticator where an
// Ed25519 key is expected (no key is expected).
// Expected: ERR AUTH, except where WIRE.md 5.4 answers first: CMD NO_AUTH for a recipient command
// or LKEY without authorization (SEND's is optional: ERR AUTH on a secured queue), CMD HAS_AUTH
// for LGET with any authorization. Unsigned LGET on the link id is the right credential: LNK.
//
// After the matrix every target is checked unchanged: the same LNK and INFO, invitations not
// secured (or secured with their own key only), recipient keys unchanged, link ids resolving.
import { beforeAll, describe, expect, it } from "vitest";
import type { SMPClient } from "../../src/client/client.js";
import { parseQueueInfo, type QueueInfo } from "../../src/client/queues.js";
import { generateSigningKey, type SigningKey } from "../../src/crypto/signing.js";
import { generateX25519, type X25519KeyPair } from "../../src/crypto/x25519.js";
import type { ClientCommand, ServerResponse } from "../../src/protocol/commands.js";
import { derEd, replayed, send, type Signer } from "../helpers/authWire.js";
import { created as createdLinked, derX, outcome, str, text, type LinkedQueue, type LinkedQueueOptions } from "../helpers/linkWire.js";
import { relayForFile } from "../helpers/relayClients.js";

const { client } = relayForFile();

const x = (k: X25519KeyPair): Signer => ({ x25519: k.privateKey });
const ed = (k: SigningKey): Signer => ({ ed25519: k });
const rcvSigner = (q: LinkedQueue): Signer => x(q.rcvKey);

/** Made without subscribing (unless asked). */
const created = (conn: SMPClient, o: LinkedQueueOptions): Promise<LinkedQueue> => createdLinked(conn, { subscribe: false, ...o });

/** LNK as comparable text, or throws with what came instead. */
function lnk(r: ServerResponse): { sndId: string; fixed: string; user: string } {
  if (r.tag !== "LNK") throw new Error(`expected LNK, got ${outcome(r)}`);
  return { sndId: Buffer.from(r.sndId).toString("hex"), fixed: str(r.fixedData), user: str(r.userData) };
}

async function info(conn: SMPClient, q: LinkedQueue, signer: Signer = rcvSigner(q)): Promise<QueueInfo> {
  const r = await send(conn, q.rcvId, { tag: "QUE" }, signer);
  if (r.tag !== "INFO") throw new Error(`QUE: ${outcome(r)}`);
  return parseQueueInfo(r.json);
}

const lget = async (conn: SMPClient, q: LinkedQueue): Promise<ServerResponse> => send(conn, q.linkId, { tag: "LGET" }, null);

// ---- The queues under attack ----

let own: SMPClient; // creates the queues; connection A of the replays
let reader: SMPClient; // reads links as anyone may
let joiner: SMPClient; // secures invitations and sends
let mallory: SMPClient; // every attack
let C: LinkedQueue; // contact address: LSET, LDEL, RKEY, LGET
let O: LinkedQueue; // another contact address
let I: LinkedQueue; // unsecured invitation: LKEY
let S: LinkedQueue; // invitation secured with J: SEND
let S2: LinkedQueue; // another, secured with J2
let CE: LinkedQueue; // contact address whose recipient key is now ceKey (Ed25519)
let SE: LinkedQueue; // invitation secured with seKey (Ed25519)
let J: X25519KeyPair;
let J2: X25519KeyPair;
let ceKey: SigningKey;
let seKey: SigningKey;
let mk: X25519KeyPair; // the key mallory tries to install (RKEY, LKEY)
const before = {} as { lnk: Record<"C" | "O" | "CE", ReturnType<typeof lnk>>; info: Record<"C" | "O" | "I" | "S" | "S2" | "CE" | "SE", QueueInfo> };

// ---- The matrix ----

const COMMANDS = ["LSET", "LDEL", "RKEY", "LKEY", "LGET", "SEND"] as const;
type Cmd = (typeof COMMANDS)[number];

const CREDENTIALS = [
  "no authorization",
  "a wrong key (random X25519)",
  "another queue's key",
  "the other role's key of the same queue",
  "the right key on another id kind",
  "a transmission replayed from another session",
  "an Ed25519 signature where the key is X25519",
  "an X25519 authenticator where the key is Ed25519",
] as const;
type Cred = (typeof CREDENTIALS)[number];

function applies(cmd: Cmd, cred: Cred): boolean {
  if (cred === "the other role's key of the same queue") return cmd !== "LSET" && cmd !== "RKEY";
  if (cmd === "LGET") return cred !== "a transmission replayed from another session" && cred !== "an X25519 authenticator where the key is Ed25519";
  return true;
}

/** WIRE.md 5.4 first (credential errors before any queue is touched), then ERR AUTH. */
function expected(cmd: Cmd, cred: Cred): string {
  if (cmd === "LGET") {
    if (cred === "no authorization") return "LNK";
    return cred === "the right key on another id kind" ? "ERR AUTH" : "ERR CMD HAS_AUTH";
  }
  if (cred === "no authorization") return cmd === "SEND" ? "ERR AUTH" : "ERR CMD NO_AUTH";
  return "ERR AUTH";
}

/** The command as the target's rightful holder would send it (LKEY: carrying `carried`, mallory's key by default). */
function commandFor(cmd: Cmd, t: LinkedQueue, carried: Uint8Array = derX(mk)): ClientCommand {
  switch (cmd) {
    case "LSET":
      return { tag: "LSET", linkId: t.linkId, fixedData: t.fixedData, userData: text("from mallory") };
    case "RKEY":
      return { tag: "RKEY", recipientKeys: [derX(mk)] };
    case "LKEY":
      return { tag: "LKEY", senderKey: carried };
    case "SEND":
      return { tag: "SEND", notify: true, body: text("from mallory") };
    default:
      return { tag: cmd };
  }
}

/** Mallory's attempt, by entity: each reply as text. */
async function attempt(cmd: Cmd, cred: Cred): Promise<string[]> {
  if (cred === "a transmission replayed from another session") {
    if (cmd === "LGET") throw new Error("LGET has no replay cell (see applies)");
    return [await replay(cmd)];
  }
  const randomX = async (): Promise<Signer> => x(await generateX25519());
  const on = async (t: LinkedQueue, entity: Uint8Array, signer: Signer, c = commandFor(cmd, t)): Promise<string[]> => [outcome(await send(mallory, entity, c, signer))];
  const recipientCmd = cmd === "LSET" || cmd === "LDEL" || cmd === "RKEY";
  if (recipientCmd) {
    switch (cred) {
      case "no authorization":
        return on(C, C.rcvId, null);
      case "a wrong key (random X25519)":
        return on(C, C.rcvId, await randomX());
      case "another queue's key":
        return on(C, C.rcvId, rcvSigner(O));
      case "the other role's key of the same queue":
        return on(S, S.rcvId, x(J)); // LDEL only (see applies)
      case "the right key on another id kind": {
        const ids = [C.sndId, C.linkId].map((id) => on(C, id, rcvSigner(C)));
        if (cmd !== "RKEY") ids.push(on(I, I.linkId, rcvSigner(I)), on(I, I.sndId, rcvSigner(I)));
        return (await Promise.all(ids)).flat();
      }
      case "an Ed25519 signature where the key is X25519":
        return on(C, C.rcvId, ed(await generateSigningKey("ed25519")));
      case "an X25519 authenticator where the key is Ed25519":
        // CE's own X25519 key, before RKEY replaced it with ceKey.
        return on(CE, CE.rcvId, rcvSigner(CE));
    }
  }
  switch (cmd) {
    case "LKEY":
      switch (cred) {
        case "no authorization":
          return on(I, I.linkId, null);
        case "a wrong key (random X25519)":
          return on(I, I.linkId, await randomX());
        case "another queue's key":
          return on(I, I.linkId, x(J2));
        case "the other role's key of the same queue":
          return on(I, I.linkId, rcvSigner(I));
        case "the right key on another id kind":
          return (await Promise.all([I.rcvId, I.sndId].map((id) => on(I, id, x(mk))))).flat();
        case "an Ed25519 signature where the key is X25519":
          return on(I, I.linkId, ed(await generateSigningKey("ed25519")));
        case "an X25519 authenticator where the key is Ed25519":
          return on(I, I.linkId, await randomX(), commandFor("LKEY", I, await derEd(await generateSigningKey("ed25519"))));
      }
      break;
    case "LGET":
      switch (cred) {
        case "no authorization":
          return on(C, C.linkId, null);
        case "a wrong key (random X25519)":
          return on(C, C.linkId, await randomX());
        case "another queue's key":
          return on(C, C.linkId, rcvSigner(O));
        case "the other role's key of the same queue":
          return on(C, C.linkId, rcvSigner(C));
        case "the right key on another id kind":
          return (await Promise.all([C.rcvId, C.sndId].map((id) => on(C, id, null)))).flat();
        case "an Ed25519 signature where the key is X25519":
          return on(C, C.linkId, ed(await generateSigningKey("ed25519")));
      }
      break;
    case "SEND":
      switch (cred) {
        case "no authorization":
          return on(S, S.sndId, null);
        case "a wrong key (random X25519)":
          return on(S, S.sndId, await randomX());
        case "another queue's key":
          return on(S, S.sndId, x(J2));
        case "the other role's key of the same queue":
          return on(S, S.sndId, rcvSigner(S));
        case "the right key on another id kind":
          // And, unsigned as a contact address takes it, on C's rcvId and its client-chosen link id.
          return (await Promise.all([...[S.rcvId, S.linkId].map((id) => on(S, id, x(J))), ...[C.rcvId, C.linkId].map((id) => on(C, id, null))])).flat();
        case "an Ed25519 signature where the key is X25519":
          return on(S, S.sndId, ed(await generateSigningKey("ed25519")));
        case "an X25519 authenticator where the key is Ed25519":
          return on(SE, SE.sndId, await randomX());
      }
      break;
  }
  throw new Error(`no attempt for ${cmd} with ${cred}`);
}

/**
 * The replay column. On a queue of its own, connection A (`own`) is the rightful holder; the
 * transmission is built for A with the right key, then sent on mallory's connection (refused),
 * on A (accepted: the bytes are good), and on mallory's again (refused). The queue then shows
 * A's command and only A's.
 */
async function replay(cmd: Exclude<Cmd, "LGET">): Promise<string> {
  const k = await generateX25519();
  const q = await created(own, { mode: cmd === "LKEY" || cmd === "SEND" ? "M" : "C", fixedData: text("replay fixed"), userData: text("replay user") });
  let entity = q.rcvId;
  let signer: Signer = rcvSigner(q);
  let command: ClientCommand = { tag: cmd } as ClientCommand;
  let success = "OK";
  let after: () => Promise<void>;
  switch (cmd) {
    case "LSET":
      command = { tag: "LSET", linkId: q.linkId, fixedData: q.fixedData, userData: text("set once, by A") };
      after = async () => expect(lnk(await lget(reader, q)).user).toBe("set once, by A");
      break;
    case "LDEL":
      after = async () => expect(outcome(await lget(reader, q))).toBe("ERR AUTH");
      break;
    case "RKEY":
      command = { tag: "RKEY", recipientKeys: [derX(k)] };
      after = async () => {
        expect((await info(own, q, x(k))).qiSnd).toBe(false);
        expect(outcome(await send(own, q.rcvId, { tag: "QUE" }, rcvSigner(q))), "the replaced key").toBe("ERR AUTH");
      };
      break;
    case "LKEY":
      entity = q.linkId;
      signer = x(k);
      command = { tag: "LKEY", senderKey: derX(k) };
      success = "LNK";
      after = async () => expect((await info(own, q)).qiSnd).toBe(true);
      break;
    case "SEND":
      expect(outcome(await send(own, q.linkId, { tag: "LKEY", senderKey: derX(k) }, x(k)))).toBe("LNK");
      entity = q.sndId;
      signer = x(k);
      command = { tag: "SEND", notify: true, body: text("once") };
      after = async () => {
        expect((await info(own, q)).qiSize).toBe(1);
        // The first message consumed the invitation's link.
        expect(outcome(await send(own, q.linkId, { tag: "LKEY", senderKey: derX(k) }, x(k)))).toBe("ERR AUTH");
      };
      break;
  }
  const first = await replayed(own, mallory, entity, command, signer, success, (got, want, what) => expect(got, what).toBe(want));
  await after();
  return first;
}

describe("authorization matrix: short links and client-chosen ids", () => {
  beforeAll(async () => {
    [own, reader, joiner, mallory] = await Promise.all([client(), client(), client(), client()]);
    [J, J2, mk] = await Promise.all([generateX25519(), generateX25519(), generateX25519()]);
    [ceKey, seKey] = await Promise.all([generateSigningKey("ed25519"), generateSigningKey("ed25519")]);
    C = await created(own, { mode: "C", fixedData: text("C fixed"), userData: text("C user") });
    O = await created(own, { mode: "C", fixedData: text("O fixed"), userData: text("O user") });
    I = await created(own, { mode: "M", fixedData: text("I fixed"), userData: text("I user") });
    S = await created(own, { mode: "M", fixedData: text("S fixed"), userData: text("S user") });
    S2 = await created(own, { mode: "M" });
    CE = await created(own, { mode: "C", fixedData: text("CE fixed"), userData: text("CE user") });
    SE = await created(own, { mode: "M" });
    expect(lnk(await send(joiner, S.linkId, { tag: "LKEY", senderKey: derX(J) }, x(J))).user).toBe("S user");
    expect(outcome(await send(joiner, S2.linkId, { tag: "LKEY", senderKey: derX(J2) }, x(J2)))).toBe("LNK");
    expect(outcome(await send(joiner, SE.linkId, { tag: "LKEY", senderKey: await derEd(seKey) }, ed(seKey)))).toBe("LNK");
    expect(outcome(await send(own, CE.rcvId, { tag: "RKEY", recipientKeys: [await derEd(ceKey)] }, rcvSigner(CE)))).toBe("OK");

    before.lnk = { C: lnk(await lget(reader, C)), O: lnk(await lget(reader, O)), CE: lnk(await lget(reader, CE)) };
    before.info = {
      C: await info(own, C),
      O: await info(own, O),
      I: await info(own, I),
      S: await info(own, S),
      S2: await info(own, S2),
      CE: await info(own, CE, ed(ceKey)),
      SE: await info(own, SE),
    };
    expect([before.info.C.qiSnd, before.info.I.qiSnd, before.info.S.qiSnd, before.info.SE.qiSnd]).toEqual([false, false, true, true]);

    // The right credentials work from mallory's connection too (the matrix is not refusing
    // everything), with commands that change nothing.
    expect(lnk(await lget(mallory, C))).toEqual(before.lnk.C);
    expect(outcome(await send(mallory, C.rcvId, { tag: "QUE" }, rcvSigner(C)))).toBe("INFO");
    expect(outcome(await send(mallory, C.rcvId, { tag: "LSET", linkId: C.linkId, fixedData: C.fixedData, userData: text("C user") }, rcvSigner(C)))).toBe("OK");
    expect(outcome(await send(mallory, CE.rcvId, { tag: "QUE" }, ed(ceKey)))).toBe("INFO");
    expect(lnk(await send(mallory, S.linkId, { tag: "LKEY", senderKey: derX(J) }, x(J))).user).toBe("S user");
    expect(lnk(await send(mallory, SE.linkId, { tag: "LKEY", senderKey: await derEd(seKey) }, ed(seKey))).user).toBe("user data");
  });

  const cells = COMMANDS.flatMap((cmd) => CREDENTIALS.filter((cred) => applies(cmd, cred)).map((cred) => [cmd, cred, expected(cmd, cred)] as const));

  it.each(cells)("%s with %s → %s", async (cmd, cred, want) => {
    const got = await attempt(cmd, cred);
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(got.map(() => want));
  });

  describe("after the matrix, every queue is unchanged", () => {
    it("C and O (contact addresses): same link data, same INFO, the original recipient key only", async () => {
      expect(lnk(await lget(reader, C))).toEqual(before.lnk.C);
      expect(lnk(await lget(reader, O))).toEqual(before.lnk.O);
      expect(await info(own, C)).toEqual(before.info.C);
      expect(await info(own, O)).toEqual(before.info.O);
      // RKEY did not take mallory's key.
      expect(outcome(await send(own, C.rcvId, { tag: "QUE" }, x(mk)))).toBe("ERR AUTH");
      // The original key still changes the link, and its sender id still takes the joining request.
      expect(outcome(await send(own, C.rcvId, { tag: "LSET", linkId: C.linkId, fixedData: C.fixedData, userData: text("C user 2") }, rcvSigner(C)))).toBe("OK");
      expect(lnk(await lget(reader, C)).user).toBe("C user 2");
      expect(outcome(await send(reader, C.sndId, { tag: "SEND", notify: false, body: text("join") }, null))).toBe("OK");
      expect((await info(own, C)).qiSize).toBe(1);
    });

    it("I (invitation): not secured, not readable with LGET, and its link secures it for the rightful joiner", async () => {
      expect(await info(own, I)).toEqual(before.info.I);
      expect(outcome(await lget(reader, I))).toBe("ERR AUTH");
      const k = await generateX25519();
      expect(lnk(await send(joiner, I.linkId, { tag: "LKEY", senderKey: derX(k) }, x(k)))).toEqual({ sndId: Buffer.from(I.sndId).toString("hex"), fixed: "I fixed", user: "I user" });
      expect((await info(own, I)).qiSnd).toBe(true);
      expect(outcome(await send(joiner, I.sndId, { tag: "SEND", notify: true, body: text("hello") }, x(k)))).toBe("OK");
    });

    it("S, S2 (secured invitations): no message, link not deleted or consumed, the sender key unchanged", async () => {
      expect(await info(own, S)).toEqual(before.info.S);
      expect(await info(own, S2)).toEqual(before.info.S2);
      expect(lnk(await send(joiner, S.linkId, { tag: "LKEY", senderKey: derX(J) }, x(J)))).toEqual({ sndId: Buffer.from(S.sndId).toString("hex"), fixed: "S fixed", user: "S user" });
      expect(outcome(await send(joiner, S.sndId, { tag: "SEND", notify: true, body: text("first") }, x(J)))).toBe("OK");
      expect(outcome(await send(joiner, S.linkId, { tag: "LKEY", senderKey: derX(J) }, x(J))), "consumed by the first message").toBe("ERR AUTH");
      expect((await info(own, S)).qiSize).toBe(1);
    });

    it("CE and SE (Ed25519 keys): same link data and INFO, their keys working", async () => {
      expect(await info(own, CE, ed(ceKey))).toEqual(before.info.CE);
      expect(lnk(await lget(reader, CE))).toEqual(before.lnk.CE);
      expect(outcome(await send(own, CE.rcvId, { tag: "LSET", linkId: CE.linkId, fixedData: CE.fixedData, userData: text("CE user 2") }, ed(ceKey)))).toBe("OK");
      expect(lnk(await lget(reader, CE)).user).toBe("CE user 2");
      expect(await info(own, SE)).toEqual(before.info.SE);
      expect(outcome(await send(joiner, SE.sndId, { tag: "SEND", notify: false, body: text("e") }, ed(seKey)))).toBe("OK");
      expect((await info(own, SE)).qiSize).toBe(1);
    });

    it("mallory's connection itself is still served", async () => {
      await mallory.ping();
    });
  });
});
