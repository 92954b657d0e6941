// One error family for every layer (like undici's errors and smallstep's):
// a stable `code` that scripts and the CLI map to exit codes, a message that
// says what happened, an optional cause (the underlying system or library
// error) and an optional hint that says what to do. Only src/cli/report.ts
// turns these into text and exit codes.
//
// Lower layers report facts, not advice about the command line: a stable
// fine-grained `reason` ('address_in_use', 'file_exists', …), the `setting`
// the error is about (an option's attribute name such as 'port' or 'cert',
// never a flag), the `path` and `value` involved and any other `facts`.
// src/cli/hints.ts turns those into advice that names the option the way the
// user gave it (a flag, an environment variable or a config file line). A
// lower layer's own `hint` is plain advice that names no flag, variable or
// command; it is used when the CLI has no advice for the reason.

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
  /** A stable, fine-grained reason within the code: 'address_in_use', 'key_mismatch', 'file_exists', … */
  reason?: string;
  /** The setting the error is about, as an option's attribute name ('port', 'udpTarget', 'cert'): never a flag. */
  setting?: string;
  /**
   * The message is about the value of `setting` ("0 is not a whole number of
   * days"): the CLI names that setting first, the way the user gave it
   * (`--days: …`, `QTSTATUS_DAYS: …`, `days in serve.conf: …`).
   */
  subject?: boolean;
  /** The file or directory the error is about. */
  path?: string;
  /** The value the error is about (a port, a name, an address). */
  value?: unknown;
  /** Any other facts the advice needs (what was written, the certificate's CN, …). */
  facts?: Record<string, unknown>;
}

export class QtError extends Error {
  override readonly name = 'QtError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly reason: string | undefined;
  readonly setting: string | undefined;
  readonly subject: boolean;
  readonly path: string | undefined;
  readonly value: unknown;
  readonly facts: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: QtErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.reason = options.reason;
    this.setting = options.setting;
    this.subject = options.subject === true && options.setting !== undefined;
    this.path = options.path;
    this.value = options.value;
    this.facts = options.facts ?? {};
  }
}

export function isQtError(err: unknown): err is QtError {
  return err instanceof QtError;
}
