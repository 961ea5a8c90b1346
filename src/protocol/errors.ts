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
