import type { ErrorCode } from "../protocol/errors.js";

/** The relay answered a command with ERR. */
export class SMPProtocolError extends Error {
  override readonly name = "SMPProtocolError";
  constructor(readonly code: ErrorCode) {
    super(`ERR ${code}`);
  }
}

/** The connection is gone (closed by either side, or never opened). */
export class ConnectionClosedError extends Error {
  override readonly name = "ConnectionClosedError";
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`connection closed (${code}${reason ? ` ${reason}` : ""})`);
  }
}

/** No reply within the command timeout. */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
}
