// Versioned schema and the statements both engines run. Placeholders are
// `?`; the PostgreSQL store numbers them ($1, $2, …).

/** Each entry moves the schema one version up; never edit a released one. */
export const MIGRATIONS: readonly string[][] = [
  [
    `CREATE TABLE users (
       email TEXT PRIMARY KEY,
       created_ns BIGINT NOT NULL,
       last_seen_ns BIGINT,
       ip TEXT,
       port INTEGER
     )`,
  ],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export const SQL = {
  createVersionTable: 'CREATE TABLE IF NOT EXISTS qtstatus_schema (version INTEGER NOT NULL)',
  readVersion: 'SELECT version FROM qtstatus_schema',
  insertVersion: 'INSERT INTO qtstatus_schema (version) VALUES (?)',
  updateVersion: 'UPDATE qtstatus_schema SET version = ?',
  addUser: 'INSERT INTO users (email, created_ns) VALUES (?, ?) ON CONFLICT (email) DO NOTHING',
  removeUser: 'DELETE FROM users WHERE email = ?',
  getUser: 'SELECT email, created_ns, last_seen_ns, ip, port FROM users WHERE email = ?',
  listUsers: 'SELECT email, created_ns, last_seen_ns, ip, port FROM users ORDER BY email',
  // Recording an update (recordSeen) is up to three statements, the first
  // the only one in the common case: without RETURNING, whose result table
  // costs a third of the update (bench/serve.ts).
  // 1. Parameters: now, ip, port, email, now. Changes nothing unless `now` is
  //    newer than the stored last seen: last seen never moves backwards.
  seenIfNewer: `UPDATE users SET last_seen_ns = ?, ip = ?, port = ?
                WHERE email = ? AND (last_seen_ns IS NULL OR last_seen_ns < ?)`,
  // 2. Parameters: ip, port, email. A known user whose stored last seen is
  //    newer: keep it, record the address.
  seenNotNewer: 'UPDATE users SET ip = ?, port = ? WHERE email = ? RETURNING last_seen_ns',
  // 3. Parameters: email, now (created), now (seen), ip, port. Auto-enrolment.
  enroll: `INSERT INTO users (email, created_ns, last_seen_ns, ip, port) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (email) DO NOTHING`,
  check: 'SELECT 1 AS ok',
} as const;
