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
  // Parameters: now, now, ip, port, email. Last seen never moves backwards.
  seen: `UPDATE users SET
           last_seen_ns = CASE WHEN last_seen_ns IS NULL OR last_seen_ns < ? THEN ? ELSE last_seen_ns END,
           ip = ?, port = ?
         WHERE email = ?
         RETURNING last_seen_ns`,
  // Parameters: email, now (created), now (seen), ip, port.
  enrollSeen: `INSERT INTO users (email, created_ns, last_seen_ns, ip, port) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (email) DO UPDATE SET
                 last_seen_ns = CASE WHEN users.last_seen_ns IS NULL OR users.last_seen_ns < excluded.last_seen_ns
                                THEN excluded.last_seen_ns ELSE users.last_seen_ns END,
                 ip = excluded.ip, port = excluded.port
               RETURNING last_seen_ns`,
  check: 'SELECT 1 AS ok',
} as const;
