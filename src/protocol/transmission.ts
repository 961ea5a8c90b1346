// Transmissions: the unit inside a batch. Client→server transmissions carry an authorization;
// server→client transmissions always have an empty one.
import { concatBytes, Decoder, Encoder, ParseError } from "./encoding.js";

/** A client transmission as the relay receives it. */
export interface ClientTransmission {
  /** Empty, an 80-byte X25519 authenticator, or an Ed25519/Ed448 signature. */
  authorization: Uint8Array;
  /** Only present when the client wrote `"1" ‖ sig` after a non-empty authorization. */
  serviceSignature: Uint8Array | null;
  corrId: Uint8Array;
  entityId: Uint8Array;
  /** Tag and parameters, not yet parsed. */
  command: Uint8Array;
  /** The bytes after the authorization fields (`tToSend`): what the authorization covers. */
  signed: Uint8Array;
}

/** A transmission as the relay sends it (and our client receives it). */
export interface ServerTransmission {
  corrId: Uint8Array;
  entityId: Uint8Array;
  command: Uint8Array;
}

/**
 * Parses a client transmission. Framing errors throw ParseError; the caller answers `ERR BLOCK`
 * (with the corrId if it was read, see `partialCorrId`).
 */
export function decodeClientTransmission(t: Uint8Array): ClientTransmission {
  const d = new Decoder(t);
  const authorization = d.shortBytes();
  const serviceSignature = authorization.length > 0 ? d.maybe((x) => x.shortBytes()) : null;
  const signedStart = d.pos;
  const corrId = d.shortBytes();
  const entityId = d.shortBytes();
  const command = d.tail();
  return { authorization, serviceSignature, corrId, entityId, command, signed: t.subarray(signedStart) };
}

/** `tToSend` = ByteString(corrId) ‖ ByteString(entityId) ‖ command. */
export function encodeSigned(corrId: Uint8Array, entityId: Uint8Array, command: Uint8Array): Uint8Array {
  return new Encoder(2 + corrId.length + entityId.length + command.length)
    .shortBytes(corrId)
    .shortBytes(entityId)
    .raw(command)
    .bytes();
}

/** `tForAuth` = ByteString(sessionId) ‖ tToSend: what authenticators and signatures are over. */
export function transmissionForAuth(sessionId: Uint8Array, signed: Uint8Array): Uint8Array {
  if (sessionId.length > 255) throw new RangeError("sessionId too long");
  return concatBytes(Uint8Array.of(sessionId.length), sessionId, signed);
}

/** Client side: authorization ‖ ("0" when authorized: no service signature) ‖ tToSend. */
export function encodeClientTransmission(authorization: Uint8Array, signed: Uint8Array): Uint8Array {
  const e = new Encoder(2 + authorization.length + signed.length).shortBytes(authorization);
  if (authorization.length > 0) e.maybe(null, () => {});
  return e.raw(signed).bytes();
}

/** Server side: empty authorization (a single 0x00, nothing after it) ‖ corrId ‖ entityId ‖ command. */
export function encodeServerTransmission(t: ServerTransmission): Uint8Array {
  return new Encoder(3 + t.corrId.length + t.entityId.length + t.command.length)
    .byte(0)
    .shortBytes(t.corrId)
    .shortBytes(t.entityId)
    .raw(t.command)
    .bytes();
}

/** Client side: parses what the relay sent. A non-empty authorization is skipped like smp-web does. */
export function decodeServerTransmission(t: Uint8Array): ServerTransmission {
  const d = new Decoder(t);
  const auth = d.shortBytes();
  if (auth.length > 0) d.maybe((x) => x.shortBytes());
  const corrId = d.shortBytes();
  const entityId = d.shortBytes();
  return { corrId, entityId, command: d.tail() };
}

export { ParseError };
