// Server → client replies and pushes (WIRE.md 5.1, 6): each server_* vector is reproduced from a
// typed response with encodeResponse / encodeServerTransmission / encodeBatch, and decoded back.
import { afterAll, describe, expect, it } from "vitest";
import { cryptoBox, cryptoBoxOpen } from "../../src/crypto/secretbox.js";
import { base64 } from "../../src/protocol/base64.js";
import { decodeBatch, encodeBatch } from "../../src/protocol/batch.js";
import { decodeResponse, encodeResponse, errorResponse, type ServerResponse } from "../../src/protocol/commands.js";
import { Encoder, ParseError } from "../../src/protocol/encoding.js";
import { blockedCode, type ErrorCode } from "../../src/protocol/errors.js";
import { pad, unpad } from "../../src/protocol/padding.js";
import { decodeServerTransmission, encodeServerTransmission } from "../../src/protocol/transmission.js";
import { ascii, common, h, hx, vectorByName, vectorsFor, type Vector } from "./vectors.js";

const V = vectorsFor("server-responses.test.ts");
afterAll(() => V.assertAllUsed());

type SR = Vector<"server_response">;

/** ERR codes of the server_ERR_* vectors, spelled as in WIRE.md 6.16. */
const ERROR_CODES: Record<string, ErrorCode> = {
  server_ERR_AUTH: "AUTH",
  server_ERR_NO_MSG: "NO_MSG",
  server_ERR_QUOTA: "QUOTA",
  server_ERR_LARGE_MSG: "LARGE_MSG",
  server_ERR_INTERNAL: "INTERNAL",
  server_ERR_BLOCK: "BLOCK",
  server_ERR_SESSION: "SESSION",
  server_ERR_SERVICE: "SERVICE",
  server_ERR_CRYPTO: "CRYPTO",
  server_ERR_EXPIRED: "EXPIRED",
  server_ERR_CMD_UNKNOWN: "CMD UNKNOWN",
  server_ERR_CMD_SYNTAX: "CMD SYNTAX",
  server_ERR_CMD_PROHIBITED: "CMD PROHIBITED",
  server_ERR_CMD_NO_AUTH: "CMD NO_AUTH",
  server_ERR_CMD_HAS_AUTH: "CMD HAS_AUTH",
  server_ERR_CMD_NO_ENTITY: "CMD NO_ENTITY",
  server_ERR_PROXY_BASIC_AUTH: "PROXY BASIC_AUTH",
  server_ERR_PROXY_NO_SESSION: "PROXY NO_SESSION",
  // Made by the relay's encoder of an operator's block (blockedCode), as a blocked queue answers.
  server_ERR_BLOCKED_reason_spam: blockedCode({ reason: "spam" }),
  server_ERR_BLOCKED_reason_content_notice_ttl: blockedCode({ reason: "content", notice: { ttl: 86400 } }),
  server_ERR_STORE_some_text: "STORE some text",
  server_ERR_BLOCK_push: "BLOCK",
  server_ERR_reply_to_PRXY: "PROXY BASIC_AUTH",
};

const msgBody = vectorByName("msg_body_encryption", "msg_body");

/** The MSG of server_MSG_reply_to_GET: the msg_body_encryption message with flag F (vector description). */
function msgReplyBody(): Uint8Array {
  const i = msgBody.inputs;
  const inner = new Encoder().int64(BigInt(i.timestamp_seconds)).ascii("F").ascii(" ").raw(h(i.body_hex)).bytes();
  return cryptoBox(h(msgBody.outputs.rcv_dh_secret_hex), h(i.msg_id_hex), pad(inner, 16106));
}

/** The INFO JSON (upstream aeson key order, compact), from the common IDs and the message timestamp. */
function infoJson(): string {
  const msgId = base64.encode(h(common.msg_id_hex));
  const msgTs = new Date(Number(msgBody.inputs.timestamp_seconds) * 1000).toISOString().replace(/\.000Z$/, "Z");
  return JSON.stringify({
    qiSnd: true,
    qiNtf: false,
    qiSub: { qSubThread: "noSub", qDelivered: msgId },
    qiSize: 1,
    qiMsg: { msgId, msgTs, msgType: "message" },
  });
}

/** The typed response each vector must encode from. */
function expectedResponse(v: SR): ServerResponse {
  const code = ERROR_CODES[v.name];
  if (code !== undefined) return errorResponse(code);
  switch (v.name) {
    case "server_IDS":
      return {
        tag: "IDS",
        rcvId: h(common.rcv_id_hex),
        sndId: h(common.snd_id_hex),
        srvDhKey: h(msgBody.inputs.server_queue_dh_pub_der_hex),
        queueMode: "M",
        linkId: null,
        serviceId: null,
        serverNtfCreds: null,
      };
    case "server_SOK":
      return { tag: "SOK", serviceId: null };
    case "server_OK":
      return { tag: "OK" };
    case "server_PONG":
      return { tag: "PONG" };
    case "server_END":
      return { tag: "END" };
    case "server_DELD":
      return { tag: "DELD" };
    case "server_MSG_reply_to_GET":
      return { tag: "MSG", msgId: h(common.msg_id_hex), body: msgReplyBody() };
    case "server_LNK":
      return {
        tag: "LNK",
        sndId: h(common.snd_id_hex),
        fixedData: h("3afc8496e342550c72b91a0ad355466973e58ac3"),
        userData: h("524862d950133d5e8b821f5ecaf7cfb58e3a85a53ebeb53c8e379c0e5643"),
      };
    case "server_INFO":
      return { tag: "INFO", json: infoJson() };
    default:
      throw new Error(`no expected response written for ${v.name}`);
  }
}

/** What smp-web reported decoding, compared with our typed response. */
function expectMatchesSmpWeb(v: SR, r: ServerResponse): void {
  const d = v.outputs.smp_web_decoded;
  if (r.tag === "INFO") {
    expect(v.outputs.smp_web_accepts).toBe(false);
    expect(d).toEqual({ decodeResponse_throws: "unknown SMP response: INFO" });
    return;
  }
  expect(v.outputs.smp_web_accepts).toBe(true);
  expect(d["type"]).toBe(r.tag);
  switch (r.tag) {
    case "ERR":
      expect(d).toEqual({ type: "ERR", error: r.code });
      break;
    case "SOK":
      expect(d).toEqual({ type: "SOK", serviceId: null });
      break;
    case "IDS":
      expect(d).toEqual({ type: "IDS", rcvId: hx(r.rcvId), sndId: hx(r.sndId), srvDhKey: hx(r.srvDhKey), queueMode: r.queueMode, linkId: null });
      break;
    case "MSG":
      expect(d).toEqual({ type: "MSG", msgId: hx(r.msgId), msgBodyLength: r.body.length });
      break;
    case "LNK":
      expect(d).toEqual({ type: "LNK", senderId: hx(r.sndId), encFixedData: hx(r.fixedData), encUserData: hx(r.userData) });
      break;
    default:
      expect(d).toEqual({ type: r.tag });
  }
}

describe("server response vectors", () => {
  const vectors = V.ofKind("server_response");

  it("covers all 32 server_* response vectors", () => {
    expect(vectors.length).toBe(32);
    expect(vectors.map((v) => v.name)).toEqual(V.names);
  });

  for (const v of vectors) {
    const i = v.inputs;
    const o = v.outputs;
    describe(v.name, () => {
      it("encodeResponse reproduces command_hex", () => {
        expect(hx(encodeResponse(expectedResponse(v)))).toBe(o.command_hex);
      });

      it("encodeServerTransmission reproduces transmission_hex (empty authorization, nothing after it)", () => {
        const t = encodeServerTransmission({ corrId: h(i.corr_id_hex), entityId: h(i.entity_id_hex), command: encodeResponse(expectedResponse(v)) });
        expect(hx(t)).toBe(o.transmission_hex);
        expect(t[0]).toBe(0x00);
        expect(t[1]).toBe(i.corr_id_hex.length / 2);
      });

      it("encodeBatch([t]) reproduces batch_block_content_hex", () => {
        expect(hx(encodeBatch([h(o.transmission_hex)]))).toBe(o.batch_block_content_hex);
      });

      it("decodes back: batch → transmission → response", () => {
        const items = decodeBatch(h(o.batch_block_content_hex));
        expect(items.length).toBe(1);
        const t = decodeServerTransmission(items[0]!);
        expect(hx(t.corrId)).toBe(i.corr_id_hex);
        expect(hx(t.entityId)).toBe(i.entity_id_hex);
        expect(hx(t.command)).toBe(o.command_hex);
        expect(decodeResponse(t.command)).toEqual(expectedResponse(v));
      });

      it("agrees with what smp-web decoded", () => {
        expectMatchesSmpWeb(v, expectedResponse(v));
      });
    });
  }
});

describe("response details", () => {
  it("the MSG reply body opens with the recipient's secret to flag F and the message body", () => {
    const v = V.get("server_MSG_reply_to_GET", "server_response");
    const r = decodeResponse(decodeServerTransmission(h(v.outputs.transmission_hex)).command);
    if (r.tag !== "MSG") throw new Error(`expected MSG, got ${r.tag}`);
    expect(r.body.length).toBe(16122);
    const opened = cryptoBoxOpen(h(msgBody.outputs.rcv_dh_secret_hex), r.msgId, r.body);
    expect(opened).not.toBeNull();
    const inner = unpad(opened!);
    expect(hx(inner.subarray(0, 8))).toBe("000000006955b900");
    expect(String.fromCharCode(inner[8]!, inner[9]!)).toBe("F ");
    expect(hx(inner.subarray(10))).toBe(msgBody.inputs.body_hex);
  });

  it("the INFO JSON is the upstream QueueInfo encoding", () => {
    const v = V.get("server_INFO", "server_response");
    const cmd = h(v.outputs.command_hex);
    const text = new TextDecoder().decode(cmd.subarray(5));
    expect(text).toBe(infoJson());
    expect(JSON.parse(text)).toEqual({
      qiSnd: true,
      qiNtf: false,
      qiSub: { qSubThread: "noSub", qDelivered: Buffer.from(h(common.msg_id_hex)).toString("base64") },
      qiSize: 1,
      qiMsg: { msgId: Buffer.from(h(common.msg_id_hex)).toString("base64"), msgTs: "2026-01-01T00:00:00Z", msgType: "message" },
    });
  });

  it("SOK carries the space and the Nothing: 'SOK 0', never bare 'SOK'", () => {
    const v = V.get("server_SOK", "server_response");
    expect(hx(encodeResponse({ tag: "SOK", serviceId: null }))).toBe(hx(ascii("SOK 0")));
    expect(v.outputs.command_hex).toBe(hx(ascii("SOK 0")));
    expect(hx(encodeResponse({ tag: "SOK", serviceId: h("0102") }))).toBe(hx(ascii("SOK 1")) + "020102");
  });

  it("pushes (END, DELD, ERR BLOCK) have an empty corrId", () => {
    for (const name of ["server_END", "server_DELD", "server_ERR_BLOCK_push"]) {
      const t = decodeServerTransmission(h(V.get(name, "server_response").outputs.transmission_hex));
      expect(t.corrId.length, name).toBe(0);
    }
    expect(V.get("server_ERR_BLOCK_push", "server_response").outputs.transmission_hex).toBe("000000" + hx(ascii("ERR BLOCK")));
  });

  it("IDS with every optional field present round-trips", () => {
    const r: ServerResponse = {
      tag: "IDS",
      rcvId: h(common.rcv_id_hex),
      sndId: h(common.snd_id_hex),
      srvDhKey: h(msgBody.inputs.server_queue_dh_pub_der_hex),
      queueMode: "C",
      linkId: h(common.link_id_hex),
      serviceId: h("aa"),
      serverNtfCreds: { notifierId: h("bb"), srvNtfDhKey: h(msgBody.inputs.rcv_dh_pub_der_hex) },
    };
    expect(decodeResponse(encodeResponse(r))).toEqual(r);
  });

  it("decodeResponse rejects unknown tags, missing parameters, extra parameters", () => {
    for (const s of ["FOO", "NEW x", "", "PONG x", "OK ", "END 1", "IDS", "MSG", "ERR", "SOK"]) {
      expect(() => decodeResponse(ascii(s)), JSON.stringify(s)).toThrow(ParseError);
    }
    // LNK must be consumed exactly
    const lnk = h(V.get("server_LNK", "server_response").outputs.command_hex);
    const longer = new Uint8Array(lnk.length + 1);
    longer.set(lnk);
    expect(() => decodeResponse(longer)).toThrow(ParseError);
    expect(() => decodeResponse(lnk.subarray(0, lnk.length - 1))).toThrow(ParseError);
  });
});
