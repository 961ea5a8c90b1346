// Client → server transmissions (WIRE.md 2.3, 5, 6): every client_* vector is decoded the way the
// relay receives it (batch → transmission → tForAuth → authorization → command) and re-encoded the
// way our client sends it. Then the parser's failure cases.
import { afterAll, describe, expect, it } from "vitest";
import { makeAuthenticator, verifyAuthorization } from "../../src/crypto/authenticator.js";
import { decodePublicKey, encodePublicKey, type PublicKey } from "../../src/crypto/keys.js";
import { publicKeyOf, sign } from "../../src/crypto/signing.js";
import { generateX25519 } from "../../src/crypto/x25519.js";
import { decodeBatch, encodeBatch, MAX_BATCH_ITEMS_SIZE, MAX_TRANSMISSION_SIZE, packBatches } from "../../src/protocol/batch.js";
import { decodeCommand, encodeCommand, type ClientCommand } from "../../src/protocol/commands.js";
import { Encoder, ParseError } from "../../src/protocol/encoding.js";
import { CommandError, type CommandErrorCode } from "../../src/protocol/errors.js";
import {
  decodeClientTransmission,
  encodeClientTransmission,
  encodeSigned,
  transmissionForAuth,
} from "../../src/protocol/transmission.js";
import { ascii, common, h, hx, vectorByName, vectorsFor, x25519PublicOf, type Vector } from "./vectors.js";

const V = vectorsFor("client-transmissions.test.ts");
afterAll(() => V.assertAllUsed());

const sessionId = h(common.session_id_hex);
const serverPriv = h(common.server_session_x25519_priv_hex);
const serverPub = h(common.server_session_x25519_pub_hex);
const EMPTY = new Uint8Array(0);

type CT = Vector<"client_transmission">;

/** The command each vector must decode to, written from the vector inputs and WIRE.md section 6. */
function expectedCommand(v: CT): ClientCommand {
  const i = v.inputs;
  const newVector = vectorByName("client_NEW", "client_transmission").inputs;
  switch (v.name) {
    case "client_NEW":
      return {
        tag: "NEW",
        rcvAuthKey: h(i.rcv_auth_pub_der_hex!),
        rcvDhKey: h(i.rcv_dh_pub_der_hex!),
        basicAuth: i.basic_auth === null ? null : ascii(i.basic_auth!),
        subscribe: i.subscribe!,
        queueReqData: { mode: "M", link: null }, // "1M0"
        ntfCreds: null,
      };
    case "client_NEW_onlycreate_basicauth":
      // Same keys as client_NEW; basicAuth Just "secret", subscribe mode C (vector description).
      return {
        tag: "NEW",
        rcvAuthKey: h(newVector.rcv_auth_pub_der_hex!),
        rcvDhKey: h(newVector.rcv_dh_pub_der_hex!),
        basicAuth: ascii("secret"),
        subscribe: false,
        queueReqData: { mode: "M", link: null },
        ntfCreds: null,
      };
    case "client_KEY":
      return { tag: "KEY", senderKey: h(i.sender_key_der_hex!) };
    case "client_SKEY":
      // smp-web puts the public half of the key it authorizes with into SKEY.
      return { tag: "SKEY", senderKey: encodePublicKey({ alg: "x25519", raw: x25519PublicOf(i.auth_key!.private_hex) }) };
    case "client_SEND_unsigned":
    case "client_SEND_x25519":
    case "client_SEND_ed25519":
      return { tag: "SEND", notify: i.notification!, body: h(i.body_hex!) };
    case "client_ACK":
      return { tag: "ACK", msgId: h(i.msg_id_hex!) };
    case "client_SUB":
      return { tag: "SUB" };
    case "client_GET":
      return { tag: "GET" };
    case "client_OFF":
      return { tag: "OFF" };
    case "client_DEL":
      return { tag: "DEL" };
    case "client_QUE":
      return { tag: "QUE" };
    case "client_PING":
      return { tag: "PING" };
    case "client_LGET":
      return { tag: "LGET" };
    case "client_PRXY":
      return {
        tag: "PRXY",
        hosts: [ascii("relay.example.com")],
        port: ascii("443"),
        keyHash: h("54678f33a06640ab4116beb3e6d7386f0af5a84bec87b8b6fa495e49a3c4e635"),
        basicAuth: null,
      };
    default:
      throw new Error(`no expected command written for ${v.name}`);
  }
}

/** The key the relay would have stored for this vector's authorization (null: unauthorized). */
function storedKey(v: CT): PublicKey | null {
  const k = v.inputs.auth_key;
  if (k === null) return null;
  if (k.type === "x25519") return { alg: "x25519", raw: x25519PublicOf(k.private_hex) };
  const der = decodePublicKey(h(v.inputs.ed25519_pub_der_hex!));
  expect(der).toEqual({ alg: "ed25519", raw: h(v.inputs.ed25519_pub_hex!) });
  return der;
}

/** A copy of `b` with one bit flipped. */
function flip(b: Uint8Array, i: number): Uint8Array {
  const c = b.slice();
  c[i]! ^= 0x01;
  return c;
}

describe("client transmission vectors", () => {
  const vectors = V.ofKind("client_transmission");

  it("covers all 16 client_* transmission vectors", () => {
    expect(vectors.length).toBe(16);
  });

  for (const v of vectors) {
    const i = v.inputs;
    const o = v.outputs;

    describe(v.name, () => {
      it("shares the session of `common`", () => {
        expect(i.session_id_hex).toBe(common.session_id_hex);
        expect(i.server_session_x25519_pub_hex).toBe(common.server_session_x25519_pub_hex);
        expect(h(i.corr_id_hex).length).toBe(24);
      });

      it("decodeBatch yields the single transmission", () => {
        const content = h(o.batch_block_content_hex);
        expect(content.length).toBe(o.batch_length);
        const items = decodeBatch(content);
        expect(items.length).toBe(1);
        expect(hx(items[0]!)).toBe(o.transmission_hex);
      });

      it("decodeClientTransmission splits authorization, corrId, entityId and command", () => {
        const t = decodeClientTransmission(decodeBatch(h(o.batch_block_content_hex))[0]!);
        expect(hx(t.authorization)).toBe(o.authorization_hex);
        expect(t.serviceSignature).toBeNull();
        expect(hx(t.corrId)).toBe(i.corr_id_hex);
        expect(hx(t.entityId)).toBe(i.entity_id_hex);
        expect(hx(t.command)).toBe(o.command_hex);
        expect(hx(t.signed)).toBe(o.t_to_send_hex);
        // the prefix is a printable rendering: bytes outside 0x20..0x7e are shown as "."
        const shown = Array.from(t.command.subarray(0, o.command_ascii_prefix.length), (c) => (c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : "."));
        expect(shown.join("")).toBe(o.command_ascii_prefix);
        if (i.auth_key === null) expect(o.authorization_hex).toBe("");
        else expect(o.authorization_hex.length / 2).toBe(i.auth_key.type === "x25519" ? 80 : 64);
      });

      it("transmissionForAuth rebuilds tForAuth from the session ID", () => {
        const t = decodeClientTransmission(h(o.transmission_hex));
        expect(hx(transmissionForAuth(sessionId, t.signed))).toBe(o.t_for_auth_hex);
      });

      it("the authorization verifies against the stored key", async () => {
        const t = decodeClientTransmission(h(o.transmission_hex));
        const tForAuth = transmissionForAuth(sessionId, t.signed);
        const key = storedKey(v);
        if (key === null) {
          expect(t.authorization.length).toBe(0);
          return;
        }
        expect(await verifyAuthorization(key, t.authorization, tForAuth, t.corrId, serverPriv)).toBe(true);
        // ...and fails when anything is changed
        expect(await verifyAuthorization(key, flip(t.authorization, 5), tForAuth, t.corrId, serverPriv)).toBe(false);
        expect(await verifyAuthorization(key, t.authorization, flip(tForAuth, tForAuth.length - 1), t.corrId, serverPriv)).toBe(false);
        expect(await verifyAuthorization(key, t.authorization, transmissionForAuth(flip(sessionId, 0), t.signed), t.corrId, serverPriv)).toBe(false);
      });

      it("decodeCommand gives the expected command", () => {
        const t = decodeClientTransmission(h(o.transmission_hex));
        expect(decodeCommand(t.command)).toEqual(expectedCommand(v));
      });

      it("encodeCommand reproduces command_hex", () => {
        expect(hx(encodeCommand(expectedCommand(v)))).toBe(o.command_hex);
      });

      it("the authorization is reproduced by our client (authenticator or signature)", async () => {
        const k = i.auth_key;
        const tForAuth = h(o.t_for_auth_hex);
        if (k === null) {
          expect(o.authorization_hex).toBe("");
        } else if (k.type === "x25519") {
          expect(hx(await makeAuthenticator(serverPub, h(k.private_hex), h(i.corr_id_hex), tForAuth))).toBe(o.authorization_hex);
        } else {
          // libsodium secret key = seed ‖ pub
          expect(k.private_hex).toBe(i.ed25519_seed_hex! + i.ed25519_pub_hex!);
          const signer = { alg: "ed25519" as const, seed: h(i.ed25519_seed_hex!) };
          expect(await publicKeyOf(signer)).toEqual({ alg: "ed25519", raw: h(i.ed25519_pub_hex!) });
          expect(hx(await sign(signer, tForAuth))).toBe(o.authorization_hex);
        }
      });

      it("encodeSigned, encodeClientTransmission and encodeBatch reproduce the wire bytes", () => {
        const signed = encodeSigned(h(i.corr_id_hex), h(i.entity_id_hex), encodeCommand(expectedCommand(v)));
        expect(hx(signed)).toBe(o.t_to_send_hex);
        expect(hx(transmissionForAuth(sessionId, signed))).toBe(o.t_for_auth_hex);
        const t = encodeClientTransmission(h(o.authorization_hex), signed);
        expect(hx(t)).toBe(o.transmission_hex);
        expect(hx(encodeBatch([t]))).toBe(o.batch_block_content_hex);
      });
    });
  }
});

describe("client_batch_two_SUB", () => {
  const v = V.get("client_batch_two_SUB", "client_batch");
  const items = v.inputs.items;

  it("decodes to two authorized SUB transmissions", async () => {
    expect(v.inputs.session_id_hex).toBe(common.session_id_hex);
    const content = h(v.outputs.batch_block_content_hex);
    expect(content[0]).toBe(2);
    const ts = decodeBatch(content);
    expect(ts.length).toBe(items.length);
    for (const [n, raw] of ts.entries()) {
      const item = items[n]!;
      const t = decodeClientTransmission(raw);
      expect(hx(t.corrId)).toBe(item.corr_id_hex);
      expect(hx(t.entityId)).toBe(item.entity_id_hex);
      expect(t.authorization.length).toBe(80);
      expect(t.serviceSignature).toBeNull();
      expect(decodeCommand(t.command)).toEqual({ tag: "SUB" });
      const key: PublicKey = { alg: "x25519", raw: x25519PublicOf(item.x25519_priv_hex) };
      const tForAuth = transmissionForAuth(sessionId, t.signed);
      expect(await verifyAuthorization(key, t.authorization, tForAuth, t.corrId, serverPriv)).toBe(true);
      // the other item's key does not verify this one
      const otherKey: PublicKey = { alg: "x25519", raw: x25519PublicOf(items[1 - n]!.x25519_priv_hex) };
      expect(await verifyAuthorization(otherKey, t.authorization, tForAuth, t.corrId, serverPriv)).toBe(false);
    }
  });

  it("our client encodes the same batch", async () => {
    const ts: Uint8Array[] = [];
    for (const item of items) {
      const corrId = h(item.corr_id_hex);
      const signed = encodeSigned(corrId, h(item.entity_id_hex), encodeCommand({ tag: "SUB" }));
      const auth = await makeAuthenticator(serverPub, h(item.x25519_priv_hex), corrId, transmissionForAuth(sessionId, signed));
      ts.push(encodeClientTransmission(auth, signed));
    }
    expect(hx(encodeBatch(ts))).toBe(v.outputs.batch_block_content_hex);
  });
});

describe("verifyAuthorization failures", () => {
  const sub = vectorByName("client_SUB", "client_transmission");
  const ed = vectorByName("client_SEND_ed25519", "client_transmission");
  const subT = decodeClientTransmission(h(sub.outputs.transmission_hex));
  const subTForAuth = h(sub.outputs.t_for_auth_hex);
  const subKey: PublicKey = { alg: "x25519", raw: x25519PublicOf(sub.inputs.auth_key!.private_hex) };
  const edT = decodeClientTransmission(h(ed.outputs.transmission_hex));
  const edTForAuth = h(ed.outputs.t_for_auth_hex);
  const edKey: PublicKey = { alg: "ed25519", raw: h(ed.inputs.ed25519_pub_hex!) };

  it("the unmodified vectors verify (baseline)", async () => {
    expect(await verifyAuthorization(subKey, subT.authorization, subTForAuth, subT.corrId, serverPriv)).toBe(true);
    expect(await verifyAuthorization(edKey, edT.authorization, edTForAuth, edT.corrId, serverPriv)).toBe(true);
  });

  it("wrong authenticator: every tampered byte position fails", async () => {
    for (let pos = 0; pos < 80; pos += 7) {
      expect(await verifyAuthorization(subKey, flip(subT.authorization, pos), subTForAuth, subT.corrId, serverPriv)).toBe(false);
    }
    expect(await verifyAuthorization(edKey, flip(edT.authorization, 0), edTForAuth, edT.corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(edKey, flip(edT.authorization, 63), edTForAuth, edT.corrId, serverPriv)).toBe(false);
  });

  it("wrong key: another queue key, or another connection's session key", async () => {
    const sndKey: PublicKey = { alg: "x25519", raw: x25519PublicOf(common.snd_auth_x25519_priv_hex) };
    expect(await verifyAuthorization(sndKey, subT.authorization, subTForAuth, subT.corrId, serverPriv)).toBe(false);
    const other = await generateX25519();
    expect(await verifyAuthorization(subKey, subT.authorization, subTForAuth, subT.corrId, other.privateKey)).toBe(false);
    const otherEd = { alg: "ed25519" as const, raw: x25519PublicOf(common.rcv_auth_x25519_priv_hex) };
    expect(await verifyAuthorization(otherEd, edT.authorization, edTForAuth, edT.corrId, serverPriv)).toBe(false);
  });

  it("wrong key type: an authenticator against an Ed25519 key, a signature against an X25519 key", async () => {
    expect(await verifyAuthorization(edKey, subT.authorization, subTForAuth, subT.corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(subKey, edT.authorization, edTForAuth, edT.corrId, serverPriv)).toBe(false);
    // same raw bytes, other algorithm
    expect(await verifyAuthorization({ alg: "x25519", raw: edKey.raw }, edT.authorization, edTForAuth, edT.corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization({ alg: "ed448", raw: new Uint8Array(57) }, edT.authorization, edTForAuth, edT.corrId, serverPriv)).toBe(false);
  });

  it("wrong length: truncated or extended authorizations, empty authorization", async () => {
    expect(await verifyAuthorization(subKey, subT.authorization.subarray(0, 79), subTForAuth, subT.corrId, serverPriv)).toBe(false);
    const longer = new Uint8Array(81);
    longer.set(subT.authorization);
    expect(await verifyAuthorization(subKey, longer, subTForAuth, subT.corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(edKey, edT.authorization.subarray(0, 63), edTForAuth, edT.corrId, serverPriv)).toBe(false);
    const edLonger = new Uint8Array(65);
    edLonger.set(edT.authorization);
    expect(await verifyAuthorization(edKey, edLonger, edTForAuth, edT.corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(subKey, EMPTY, subTForAuth, subT.corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(edKey, EMPTY, edTForAuth, edT.corrId, serverPriv)).toBe(false);
  });

  it("an authorization moved to another transmission fails (corrId is the nonce)", async () => {
    const ack = vectorByName("client_ACK", "client_transmission");
    const ackT = decodeClientTransmission(h(ack.outputs.transmission_hex));
    // client_ACK is authorized with the same rcv key as client_SUB
    expect(await verifyAuthorization(subKey, ackT.authorization, h(ack.outputs.t_for_auth_hex), ackT.corrId, serverPriv)).toBe(true);
    expect(await verifyAuthorization(subKey, subT.authorization, h(ack.outputs.t_for_auth_hex), ackT.corrId, serverPriv)).toBe(false);
    expect(await verifyAuthorization(subKey, subT.authorization, subTForAuth, ackT.corrId, serverPriv)).toBe(false);
  });
});

describe("decodeClientTransmission framing", () => {
  const sub = vectorByName("client_SUB", "client_transmission");
  const t = h(sub.outputs.transmission_hex);

  it("reads a present service signature ('1' ‖ ByteString) and keeps it out of the signed part", () => {
    const sig = new Uint8Array(64).fill(0xee);
    const signed = h(sub.outputs.t_to_send_hex);
    const withService = new Encoder().shortBytes(h(sub.outputs.authorization_hex)).ascii("1").shortBytes(sig).raw(signed).bytes();
    const d = decodeClientTransmission(withService);
    expect(hx(d.serviceSignature!)).toBe(hx(sig));
    expect(hx(d.signed)).toBe(sub.outputs.t_to_send_hex);
    expect(hx(d.command)).toBe(sub.outputs.command_hex);
  });

  it("the byte after a non-empty authorization must be '0' or '1'", () => {
    const bad = t.slice();
    expect(bad[81]).toBe(0x30);
    bad[81] = 0x32;
    expect(() => decodeClientTransmission(bad)).toThrow(ParseError);
  });

  it("truncated transmissions throw ParseError", () => {
    expect(() => decodeClientTransmission(EMPTY)).toThrow(ParseError);
    expect(() => decodeClientTransmission(t.subarray(0, 50))).toThrow(ParseError); // inside the authorization
    expect(() => decodeClientTransmission(t.subarray(0, 81))).toThrow(ParseError); // no service-signature byte
    expect(() => decodeClientTransmission(t.subarray(0, 90))).toThrow(ParseError); // inside corrId
    expect(() => decodeClientTransmission(h("00"))).toThrow(ParseError); // no corrId
  });

  it("an unauthorized transmission has no service-signature byte", () => {
    const ping = vectorByName("client_PING", "client_transmission");
    const d = decodeClientTransmission(h(ping.outputs.transmission_hex));
    expect(d.authorization.length).toBe(0);
    expect(d.serviceSignature).toBeNull();
    expect(hx(d.signed)).toBe(ping.outputs.t_to_send_hex);
    expect(hx(encodeClientTransmission(EMPTY, d.signed))).toBe(ping.outputs.transmission_hex);
  });
});

describe("decodeCommand errors", () => {
  function errorOf(cmd: Uint8Array): CommandErrorCode | "no error" {
    try {
      decodeCommand(cmd);
      return "no error";
    } catch (e) {
      if (e instanceof CommandError) return e.code;
      throw e;
    }
  }
  function concat(parts: Uint8Array[]): Uint8Array {
    const e = new Encoder();
    for (const p of parts) e.raw(p);
    return e.bytes();
  }
  const cmd = (s: string, ...rest: Uint8Array[]): Uint8Array => concat([ascii(s), ...rest]);
  const newCmd = h(vectorByName("client_NEW", "client_transmission").outputs.command_hex);
  const keyDer = h(common.snd_auth_x25519_pub_der_hex);

  it("CMD UNKNOWN for unknown tags", () => {
    for (const s of ["FOO", "FOO bar", "sub", "SUBX", "NEWS ", "", " SUB", "PONG", "OK", "MSG x"]) {
      expect(errorOf(ascii(s)), JSON.stringify(s)).toBe("UNKNOWN");
    }
  });

  it("CMD SYNTAX for trailing bytes after a command without parameters", () => {
    for (const s of ["SUB ", "SUB x", "GET 0", "OFF  ", "DEL 1", "QUE 1", "PING ", "LGET x"]) {
      expect(errorOf(ascii(s)), JSON.stringify(s)).toBe("SYNTAX");
    }
  });

  it("CMD SYNTAX for missing parameters", () => {
    for (const s of ["NEW", "KEY", "SKEY", "SEND", "ACK", "PRXY", "PFWD", "KEY ", "ACK ", "SEND ", "SEND T", "NEW "]) {
      expect(errorOf(ascii(s)), JSON.stringify(s)).toBe("SYNTAX");
    }
    // NEW cut short at every length after the tag
    for (let n = 4; n < newCmd.length; n++) expect(errorOf(newCmd.subarray(0, n)), `NEW cut at ${n}`).toBe("SYNTAX");
    // KEY with a ByteString longer than what follows
    expect(errorOf(cmd("KEY ", Uint8Array.of(45), keyDer))).toBe("SYNTAX");
  });

  it("CMD SYNTAX for trailing bytes after the last parameter", () => {
    expect(errorOf(concat([newCmd, ascii("0")]))).toBe("SYNTAX");
    expect(errorOf(cmd("KEY ", Uint8Array.of(44), keyDer, ascii("x")))).toBe("SYNTAX");
    expect(errorOf(cmd("ACK ", Uint8Array.of(1), Uint8Array.of(7, 8)))).toBe("SYNTAX");
    const prxy = h(vectorByName("client_PRXY", "client_transmission").outputs.command_hex);
    expect(errorOf(concat([prxy, Uint8Array.of(0)]))).toBe("SYNTAX");
  });

  it("CMD SYNTAX for malformed parameters", () => {
    expect(errorOf(ascii("SEND X hello"))).toBe("SYNTAX"); // flag must be T or F
    const badSubMode = newCmd.slice();
    badSubMode[4 + 45 + 45 + 1] = 0x58; // "X" instead of "S"
    expect(errorOf(badSubMode)).toBe("SYNTAX");
    const badMaybe = newCmd.slice();
    badMaybe[4 + 45 + 45] = 0x32; // basicAuth Maybe tag "2"
    expect(errorOf(badMaybe)).toBe("SYNTAX");
    const badMode = newCmd.slice();
    badMode[newCmd.length - 3] = 0x58; // queue mode "X"
    expect(errorOf(badMode)).toBe("SYNTAX");
    expect(errorOf(cmd("PRXY ", Uint8Array.of(0), ascii("\x03443"), Uint8Array.of(0), ascii("0")))).toBe("SYNTAX"); // empty host list
  });

  it("accepts the boundary cases the grammar allows", () => {
    expect(decodeCommand(ascii("SEND T "))).toEqual({ tag: "SEND", notify: true, body: EMPTY });
    // reserved flag bytes after T/F are skipped, as upstream does
    expect(decodeCommand(ascii("SEND FXY body"))).toEqual({ tag: "SEND", notify: false, body: ascii("body") });
    // a SEND body may contain spaces and any bytes
    expect(decodeCommand(ascii("SEND T a b "))).toEqual({ tag: "SEND", notify: true, body: ascii("a b ") });
    expect(decodeCommand(cmd("ACK ", Uint8Array.of(0)))).toEqual({ tag: "ACK", msgId: EMPTY });
  });

  it("commands the relay does not serve parse to their tag", () => {
    expect(decodeCommand(ascii("NSUB"))).toEqual({ tag: "NSUB" });
    expect(decodeCommand(cmd("NKEY ", Uint8Array.of(44), keyDer))).toEqual({ tag: "NKEY" });
  });
});

describe("decodeBatch errors", () => {
  const t = h(vectorByName("client_PING", "client_transmission").outputs.transmission_hex);
  const one = encodeBatch([t]);

  it("a valid batch (baseline)", () => {
    expect(decodeBatch(one).map(hx)).toEqual([hx(t)]);
  });

  it("count 0", () => {
    expect(() => decodeBatch(h("00"))).toThrow(ParseError);
    expect(() => decodeBatch(h("000000"))).toThrow(ParseError);
  });

  it("empty content", () => {
    expect(() => decodeBatch(EMPTY)).toThrow(ParseError);
  });

  it("truncation inside a Large or its length, or fewer items than the count", () => {
    expect(() => decodeBatch(one.subarray(0, one.length - 1))).toThrow(ParseError);
    expect(() => decodeBatch(one.subarray(0, 2))).toThrow(ParseError);
    const two = one.slice();
    two[0] = 2;
    expect(() => decodeBatch(two)).toThrow(ParseError);
  });

  it("trailing bytes after the last item", () => {
    const trailing = new Uint8Array(one.length + 1);
    trailing.set(one);
    expect(() => decodeBatch(trailing)).toThrow(ParseError);
  });

  it("encodeBatch refuses 0 or more than 255 items and content beyond a block", () => {
    expect(() => encodeBatch([])).toThrow(RangeError);
    expect(() => encodeBatch(new Array<Uint8Array>(256).fill(t))).toThrow(RangeError);
    expect(decodeBatch(encodeBatch(new Array<Uint8Array>(255).fill(EMPTY))).length).toBe(255);
    expect(() => encodeBatch([new Uint8Array(16364)])).toThrow(RangeError);
    expect(encodeBatch([new Uint8Array(16363)]).length).toBe(16366);
  });
});

describe("packBatches", () => {
  it("uses the documented limits: items ≤ 16365 bytes Large-wrapped, one transmission ≤ 16363", () => {
    expect(MAX_BATCH_ITEMS_SIZE).toBe(16365);
    expect(MAX_TRANSMISSION_SIZE).toBe(16363);
  });

  it("starts a new batch after 255 transmissions", () => {
    const batches = packBatches(new Array<Uint8Array>(256).fill(EMPTY));
    expect(batches.map((b) => b.length)).toEqual([255, 1]);
  });

  it("fills a batch up to exactly 16365 wrapped bytes and no further", () => {
    const a = new Uint8Array(10000);
    const exact = new Uint8Array(16365 - (2 + 10000) - 2); // wrapped total = 16365
    expect(packBatches([a, exact]).map((b) => b.length)).toEqual([2]);
    expect(encodeBatch([a, exact]).length).toBe(16366);
    const over = new Uint8Array(exact.length + 1);
    expect(packBatches([a, over]).map((b) => b.length)).toEqual([1, 1]);
  });

  it("keeps order, and every batch it makes fits a block", () => {
    const items = Array.from({ length: 40 }, (_, n) => new Uint8Array(997 + n).fill(n));
    const batches = packBatches(items);
    expect(batches.flat()).toEqual(items);
    for (const b of batches) expect(encodeBatch(b).length).toBeLessThanOrEqual(16366);
    expect(batches.length).toBeGreaterThan(1);
  });

  it("refuses a transmission that cannot fit any block", () => {
    expect(packBatches([new Uint8Array(16363)]).length).toBe(1);
    expect(() => packBatches([new Uint8Array(16364)])).toThrow(RangeError);
    expect(packBatches([])).toEqual([]);
  });
});
