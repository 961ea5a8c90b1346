// Transmissions authorized any way a test needs (X25519 authenticator, Ed25519 signature, or
// nothing), built by hand for one connection: the authorization matrices (auth-matrix.test.ts,
// auth-matrix-links.test.ts) send credentials the client library would never produce, and replay
// the exact bytes made for one connection on another.
import type { SMPClient } from "../../src/client/client.js";
import { makeAuthenticator } from "../../src/crypto/authenticator.js";
import { encodePublicKey } from "../../src/crypto/keys.js";
import { randomBytes } from "../../src/crypto/random.js";
import { publicKeyOf, sign, type SigningKey } from "../../src/crypto/signing.js";
import { encodeCommand, type ClientCommand, type ServerResponse } from "../../src/protocol/commands.js";
import { encodeClientTransmission, encodeSigned, transmissionForAuth } from "../../src/protocol/transmission.js";

/** How a transmission is authorized: an X25519 authenticator (by this private key), an Ed25519 signature, or nothing. */
export type Signer = { x25519: Uint8Array } | { ed25519: SigningKey } | null;

export const derEd = async (k: SigningKey): Promise<Uint8Array> => encodePublicKey(await publicKeyOf(k));

/**
 * Builds a transmission exactly as src/client/client.ts does (encodeSigned, transmissionForAuth,
 * makeAuthenticator, encodeClientTransmission), authorized for connection `conn`.
 */
export async function build(conn: SMPClient, entityId: Uint8Array, cmd: ClientCommand, signer: Signer, corrId = randomBytes(24)): Promise<{ corrId: Uint8Array; t: Uint8Array }> {
  const signed = encodeSigned(corrId, entityId, encodeCommand(cmd));
  const tForAuth = transmissionForAuth(conn.sessionId, signed);
  let auth: Uint8Array = new Uint8Array(0);
  if (signer && "x25519" in signer) auth = await makeAuthenticator(conn.serverSessionKey, signer.x25519, corrId, tForAuth);
  else if (signer) auth = await sign(signer.ed25519, tForAuth);
  return { corrId, t: encodeClientTransmission(auth, signed) };
}

/** Builds (for this connection) and sends one transmission; resolves with its reply, ERR included. */
export async function send(conn: SMPClient, entityId: Uint8Array, cmd: ClientCommand, signer: Signer, corrId?: Uint8Array): Promise<ServerResponse> {
  const { corrId: id, t } = await build(conn, entityId, cmd, signer, corrId);
  return conn.requestRaw(id, t);
}

/** A reply as text: "OK", "LNK", "ERR AUTH"… */
export const outcome = (r: ServerResponse): string => (r.tag === "ERR" ? `ERR ${r.code}` : r.tag);

/**
 * The replay cell of a matrix: bytes built (and authorized) for `own` are sent on `mallory` (what
 * this returns), then on `own`, where they must give `success`, then on `mallory` again, AUTH.
 */
export async function replayed(own: SMPClient, mallory: SMPClient, entityId: Uint8Array, cmd: ClientCommand, signer: Signer, success: string, check: (got: string, expected: string, what: string) => void): Promise<string> {
  const { corrId, t } = await build(own, entityId, cmd, signer);
  const first = outcome(await mallory.requestRaw(corrId, t));
  check(outcome(await own.requestRaw(corrId, t)), success, "the same bytes on the connection they were made for");
  check(outcome(await mallory.requestRaw(corrId, t)), "ERR AUTH", "replayed after A used them");
  return first;
}
