// The user registry and last-seen store (issues #4, #11). One interface,
// engine-neutral and async, two engines: SQLite built into Node (default)
// and PostgreSQL (servers that share state), opened alike by openStore
// (./open.ts). Both run the same migrations and, but for the batch update,
// the same SQL (./schema.ts), and pass the same contract
// (test/store/contract.ts).

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

/** What the store holds after an update: the newest update's time, IP and port. */
export interface Seen {
  lastSeenNs: bigint;
  ip: string;
  port: number;
}

/** How `listUsers` orders and filters (all optional: every user, by email). */
export interface ListQuery {
  /**
   * 'email' (the default): by address, in the database's text order (SQLite:
   * bytewise; PostgreSQL: the database's collation). 'last-seen': the most
   * recently seen first, never-seen users last, ties by email.
   */
  order?: 'email' | 'last-seen';
  /** Only users seen at or after this time (ns since the epoch). */
  seenSinceNs?: bigint;
  /** Only users never seen, or last seen before this time (ns since the epoch). */
  notSeenSinceNs?: bigint;
}

export interface Store {
  /** A short description for logs, never a password: "sqlite:/var/lib/qtstatus.db", "postgres://qt:***@db1:5432,db2:5432/qtstatus". */
  readonly description: string;
  /**
   * Adds users in one transaction (callers with many give batches: the CLI
   * gives 10,000 at a time); returns those that were new, in the order
   * given, each once. An email already there (or earlier in the list) is
   * left as it is.
   */
  addUsers(emails: string[], nowNs: bigint): Promise<string[]>;
  /** Removes a user; false if there was none. */
  removeUser(email: string): Promise<boolean>;
  getUser(email: string): Promise<UserRecord | undefined>;
  /**
   * The users, streamed: rows are read from the database a page at a time
   * as the caller iterates, so memory stays flat whatever their number.
   * Stopping early (break, return, a throw) frees the statement or cursor.
   * Errors (a store QtError) surface from the iteration.
   */
  listUsers(query?: ListQuery): AsyncIterable<UserRecord>;
  /**
   * Records that a user was seen, committed before it resolves (a rejection
   * promises nothing either way). Last seen never moves backwards and the IP
   * and port belong to the newest update: an update older than the stored
   * last seen changes nothing; one as new or newer stores its time, IP and
   * port. It returns what is stored after it: the newest update's time,
   * IP and port (this one's, or, when it was older, the stored one's: what
   * the server announces is always one update's, never this request's
   * address with another server's time). The updates of one event-loop turn
   * are committed together, each answered as if they had come one by one in
   * order. Undefined: not a user (and not enrolled).
   */
  recordSeen(update: SeenUpdate): Promise<Seen | undefined>;
  /** Throws when the store cannot take updates now (for /healthz); never waits long. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** Every user of a listing in one array: for tests and small stores only (listUsers streams). */
export async function collectUsers(users: AsyncIterable<UserRecord>): Promise<UserRecord[]> {
  const all: UserRecord[] = [];
  for await (const u of users) all.push(u);
  return all;
}
