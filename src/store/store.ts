// The user registry and last-seen store (issue #4). One interface, two
// engines: SQLite built into Node (default) and PostgreSQL (servers that
// share state). Both run the same plain SQL (./schema.ts).

export interface UserRecord {
  email: string;
  /** When the user was registered, nanoseconds since the epoch. */
  createdNs: bigint;
  /** Last seen, nanoseconds since the epoch; null if never seen. */
  lastSeenNs: bigint | null;
  ip: string | null;
  /** The client's source port; 0 when unknown. */
  port: number | null;
}

export interface SeenUpdate {
  email: string;
  nowNs: bigint;
  ip: string;
  port: number;
  /** Register the email if it is not yet a user. */
  enroll: boolean;
}

export interface Store {
  /** A short description for logs, e.g. "sqlite:/var/lib/qtstatus.db". */
  readonly description: string;
  /** Adds users; returns those that were new. */
  addUsers(emails: string[], nowNs: bigint): Promise<string[]>;
  /** Removes a user; false if there was none. */
  removeUser(email: string): Promise<boolean>;
  getUser(email: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /**
   * Records that a user was seen, committed before it resolves. Last seen
   * never moves backwards: the stored value is the larger of the old one and
   * `nowNs`, and that is what it returns. Undefined: not a user (and not enrolled).
   */
  recordSeen(update: SeenUpdate): Promise<{ lastSeenNs: bigint } | undefined>;
  /** Throws when the store cannot answer (for /healthz). */
  check(): Promise<void>;
  close(): Promise<void>;
}
