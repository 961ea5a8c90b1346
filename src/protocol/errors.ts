// SMP error codes, spelled exactly as the upstream relay spells them after "ERR ".

export type CommandErrorCode = "UNKNOWN" | "SYNTAX" | "PROHIBITED" | "NO_AUTH" | "HAS_AUTH" | "NO_ENTITY";

export type ErrorCode =
  | "BLOCK"
  | "SESSION"
  | `CMD ${CommandErrorCode}`
  | "AUTH"
  | `BLOCKED ${string}`
  | "SERVICE"
  | "CRYPTO"
  | "QUOTA"
  | "NO_MSG"
  | "LARGE_MSG"
  | "EXPIRED"
  | "INTERNAL"
  | `STORE ${string}`
  | `PROXY ${string}`;

/** Thrown by command decoders: the relay answers `ERR CMD <code>`. */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(readonly code: CommandErrorCode) {
    super(`CMD ${code}`);
  }
}

/** Why the operator blocked a queue (upstream BlockingReason). */
export type BlockingReason = "spam" | "content";

/**
 * An operator's block of a queue (upstream BlockingInfo). `notice`, when present, tells clients
 * (v18+) to show a notice, for `ttl` seconds or, without it, indefinitely.
 */
export interface BlockingInfo {
  reason: BlockingReason;
  notice?: { ttl?: number };
}

/**
 * The code a blocked queue answers with, spelled as upstream does (WIRE.md 6.16):
 * `BLOCKED reason=spam`, `BLOCKED reason=content,notice={"ttl":86400}`, `…,notice={}`.
 */
export function blockedCode(info: BlockingInfo): `BLOCKED ${string}` {
  const notice = info.notice === undefined ? "" : `,notice=${JSON.stringify(info.notice.ttl === undefined ? {} : { ttl: info.notice.ttl })}`;
  return `BLOCKED reason=${info.reason}${notice}`;
}
