// From one transmission to its reply: framing and credential checks first (WIRE.md 5.4, 5.5),
// then the command itself. Queue commands are answered here until queues exist.
import { decodeCommand, encodeResponse, type ClientCommand, type ServerResponse } from "../protocol/commands.js";
import { ParseError } from "../protocol/encoding.js";
import { CommandError, type ErrorCode } from "../protocol/errors.js";
import { decodeClientTransmission, type ClientTransmission, type ServerTransmission } from "../protocol/transmission.js";

/** Authorization lengths the protocol knows: none, Ed25519, X25519 authenticator, Ed448. */
const AUTH_LENGTHS = new Set([0, 64, 80, 114]);
const EMPTY = new Uint8Array(0);

export interface Reply {
  corrId: Uint8Array;
  entityId: Uint8Array;
  response: ServerResponse;
}

function reply(t: Pick<ClientTransmission, "corrId" | "entityId">, response: ServerResponse): Reply {
  return { corrId: t.corrId, entityId: t.entityId, response };
}

function err(t: Pick<ClientTransmission, "corrId" | "entityId">, code: ErrorCode): Reply {
  return reply(t, { tag: "ERR", code });
}

/** Who may send what: authorization and entity rules checked before any queue is touched. */
function credentialError(t: ClientTransmission, c: ClientCommand): ErrorCode | null {
  const hasAuth = t.authorization.length > 0;
  const hasEntity = t.entityId.length > 0;
  switch (c.tag) {
    case "NEW":
      if (!hasAuth) return "CMD NO_AUTH";
      return hasEntity ? "CMD HAS_AUTH" : null;
    case "SEND":
      return hasEntity ? null : "CMD NO_ENTITY";
    case "PING":
    case "PRXY":
      return hasAuth || hasEntity ? "CMD HAS_AUTH" : null;
    case "LGET":
    case "PFWD":
      if (hasAuth) return "CMD HAS_AUTH";
      return hasEntity ? null : "CMD NO_ENTITY";
    default:
      return hasAuth && hasEntity ? null : "CMD NO_AUTH";
  }
}

/** Parses one transmission and answers it. Never throws for bad input. */
export async function handleTransmission(raw: Uint8Array): Promise<Reply> {
  let t: ClientTransmission;
  try {
    t = decodeClientTransmission(raw);
  } catch (e) {
    if (e instanceof ParseError) return err({ corrId: EMPTY, entityId: EMPTY }, "BLOCK");
    throw e;
  }
  if (!AUTH_LENGTHS.has(t.authorization.length)) return err({ corrId: t.corrId, entityId: EMPTY }, "BLOCK");
  if (t.serviceSignature !== null) return err(t, "SERVICE");
  let c: ClientCommand;
  try {
    c = decodeCommand(t.command);
  } catch (e) {
    if (e instanceof CommandError) return err(t, `CMD ${e.code}`);
    throw e;
  }
  const bad = credentialError(t, c);
  if (bad !== null) return err(t, bad);
  return execute(t, c);
}

async function execute(t: ClientTransmission, c: ClientCommand): Promise<Reply> {
  switch (c.tag) {
    case "PING":
      return reply(t, { tag: "PONG" });
    case "PRXY":
      // This relay does not proxy; upstream answers a disabled proxy this way.
      return err(t, "PROXY BASIC_AUTH");
    case "PFWD":
      return err(t, "PROXY NO_SESSION");
    case "NEW":
    case "SUB":
    case "KEY":
    case "SKEY":
    case "SEND":
    case "ACK":
    case "GET":
    case "OFF":
    case "DEL":
    case "QUE":
    case "LGET":
      // No queue exists yet on this relay, and an unknown queue is AUTH.
      return err(t, "AUTH");
    default:
      // Notifier, link-management and service commands: not served by a web relay.
      return err(t, "CMD PROHIBITED");
  }
}

export function encodeReply(r: Reply): ServerTransmission {
  return { corrId: r.corrId, entityId: r.entityId, command: encodeResponse(r.response) };
}
