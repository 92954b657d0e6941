// What the benchmarks that measure PostgreSQL share: the server to use
// (--pg URL or QTSTATUS_TEST_PG, loopback only), statements run as its
// administrator, databases made and dropped for a run, and how the cluster
// is set up (printed with the figures).
import { parseArgs } from 'node:util';
import pg from 'pg';

/** The administrator's URL, or undefined for none; exits (2) for one that is not on loopback. */
export function pgAdminUrl(script: string): string | undefined {
  const { values } = parseArgs({ options: { pg: { type: 'string' } }, strict: false });
  const url = (values.pg as string | undefined) ?? (process.env.QTSTATUS_TEST_PG || undefined);
  if (url && !/^postgres(ql)?:\/\/([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url)) {
    console.error(`${script}: the PostgreSQL URL must be on loopback (127.0.0.1, localhost or [::1])`);
    process.exit(2);
  }
  return url;
}

/** `statements` in order on one connection to `url`; the last one's rows. */
export async function pgRun(url: string, ...statements: string[]): Promise<Array<Record<string, string>>> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    let rows: Array<Record<string, string>> = [];
    for (const sql of statements) rows = (await c.query(sql)).rows as Array<Record<string, string>>;
    return rows;
  } finally {
    await c.end();
  }
}

/** A new, empty database `name` on the server (an old one of that name dropped first); its URL. */
export async function pgFreshDatabase(admin: string, name: string): Promise<string> {
  await pgRun(admin, `DROP DATABASE IF EXISTS ${name}`, `CREATE DATABASE ${name}`);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.href;
}

export async function pgDropDatabase(admin: string, name: string): Promise<void> {
  await pgRun(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** "fsync=off, shared_buffers=16384 8kB, …" for the settings named, in that order. */
export async function pgSettings(admin: string, names: readonly string[]): Promise<string> {
  const rows = await pgRun(admin, `SELECT name, setting, unit FROM pg_settings WHERE name IN (${names.map((n) => `'${n}'`).join(', ')})`);
  return names
    .flatMap((n) => rows.filter((r) => r.name === n))
    .map((r) => `${r.name}=${r.setting}${r.unit ? ` ${r.unit}` : ''}`)
    .join(', ');
}
