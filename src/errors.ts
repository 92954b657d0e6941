// One error family for every layer (like undici's errors and smallstep's):
// a stable `code` that scripts and the CLI map to exit codes, a message that
// says what happened, an optional cause (the underlying system or library
// error) and an optional hint that says what to do. Only src/cli/report.ts
// turns these into text and exit codes.

export const ErrorCodes = {
  /** A flag or argument is malformed or missing. */
  USAGE: 'QT_USAGE',
  /** A file is missing, unreadable or unwritable. */
  FILE: 'QT_FILE',
  /** A socket could not be bound, joined or used. */
  NETWORK: 'QT_NETWORK',
  /** A status packet could not be encoded from the given fields. */
  PACKET: 'QT_PACKET',
  /** A safety rule refused the operation (e.g. non-loopback target in tests). */
  REFUSED: 'QT_REFUSED',
  /** A certificate or key is corrupt, encrypted, of the wrong kind or does not match its pair. */
  CERT: 'QT_CERT',
  /** A certificate failed verification (chain, validity, key usage or names). */
  CERT_INVALID: 'QT_CERT_INVALID',
  /** The database could not be opened, migrated, read or written. */
  STORE: 'QT_STORE',
  /** A named thing (a user, say) does not exist. */
  NOT_FOUND: 'QT_NOT_FOUND',
  /** The server could not be reached: connection refused, name not resolved, timeout, connection closed. */
  CONNECT: 'QT_CONNECT',
  /** The TLS handshake failed on our side: the server's certificate is not trusted or not for this name. */
  TLS: 'QT_TLS',
  /** The server refused our client certificate (a TLS alert, a reset, or its answer). */
  CERT_REFUSED: 'QT_CERT_REFUSED',
  /** The server answered with an HTTP status other than the one expected. */
  HTTP_STATUS: 'QT_HTTP_STATUS',
  /** Anything we did not expect: a bug. */
  INTERNAL: 'QT_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface QtErrorOptions {
  cause?: unknown;
  hint?: string;
}

export class QtError extends Error {
  override readonly name = 'QtError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: QtErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

export function isQtError(err: unknown): err is QtError {
  return err instanceof QtError;
}
