// PostgreSQL for the tests: the server named by QTSTATUS_TEST_PG (a
// superuser URL on loopback; .ci/run starts a throwaway one and sets it,
// with QTSTATUS_TEST_PG_PASSWORD_URL for a role that must give a password
// and QTSTATUS_TEST_PG_CA for the CA of its TLS certificate). Without it the
// PostgreSQL tests are skipped with SKIP_MESSAGE.
// Every test gets a database of its own (freshDatabase), dropped at the end.
// `tcpProxy` stands between the store and the server so a test can take
// "the database" away (refused, or silent as a cut cable) and give it back
// without disturbing the tests that run beside it.
import net from 'node:net';
import pg from 'pg';

export const PG_URL = process.env.QTSTATUS_TEST_PG || undefined;
export const PG_PASSWORD_URL = process.env.QTSTATUS_TEST_PG_PASSWORD_URL || undefined;
export const PG_CA = process.env.QTSTATUS_TEST_PG_CA || undefined;
export const SKIP_MESSAGE = 'PostgreSQL tests skipped: set QTSTATUS_TEST_PG=postgres://… or run .ci/run';

if (PG_URL && !/^postgres(ql)?:\/\/[^/]*@?(127\.0\.0\.1|localhost|\[::1\])[:/,]/.test(PG_URL)) {
  throw new Error(`QTSTATUS_TEST_PG must point at a server on loopback (127.0.0.1, localhost or [::1]), not ${PG_URL.replace(/:[^:@/]*@/, ':***@')}`);
}

export interface ServerAddress {
  host: string;
  port: number;
}

/** The host and port of a postgres:// URL (one host). */
export function addressOf(url: string): ServerAddress {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 5432) };
}

/** `url` with another database, user, password or host list. */
export function withUrl(url: string, change: { database?: string; user?: string; password?: string | null; hosts?: string; query?: string }): string {
  const u = new URL(url);
  if (change.database !== undefined) u.pathname = `/${change.database}`;
  if (change.user !== undefined) u.username = change.user;
  if (change.password === null) u.password = '';
  else if (change.password !== undefined) u.password = encodeURIComponent(change.password);
  let text = u.href;
  if (change.hosts !== undefined) text = text.replace(/@[^/]*\//, `@${change.hosts}/`).replace(/^(postgres(?:ql)?:\/\/)([^@/]*\/)/, `$1${change.hosts}/`);
  if (change.query !== undefined) text += (text.includes('?') ? '&' : '?') + change.query;
  return text;
}

/** One query as the superuser, on `url` (default QTSTATUS_TEST_PG's database). */
export async function adminQuery(sql: string, params: unknown[] = [], url = PG_URL): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

let counter = 0;
const made: string[] = [];

/** A new empty database (owned by `owner`, default the superuser); its URL for the superuser. */
export async function freshDatabase(owner?: string): Promise<string> {
  const name = `qt_test_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  await adminQuery(`CREATE DATABASE ${name}${owner ? ` OWNER ${owner}` : ''}`);
  made.push(name);
  return withUrl(PG_URL as string, { database: name });
}

/** Drops the databases this process made (afterAll). */
export async function dropDatabases(): Promise<void> {
  for (const name of made.splice(0)) await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
}

/** Ends every connection to `database` (what a server restart or a failover does to the clients). */
export async function terminateBackends(database: string): Promise<number> {
  const r = await adminQuery('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  return (r.rows[0] as { n: number }).n;
}

/** A loopback port where nothing listens. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface TcpProxy {
  port: number;
  /** Forward (the default). */
  pass(): Promise<void>;
  /** The database is down: open connections are cut and new ones refused. */
  down(): Promise<void>;
  /** The network is cut: nothing arrives any more, in either direction, and nothing is refused. */
  blackhole(): void;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 in front of `target`. */
export async function tcpProxy(target: ServerAddress): Promise<TcpProxy> {
  let mode: 'pass' | 'blackhole' = 'pass';
  const pairs = new Set<[net.Socket, net.Socket | undefined]>();
  const server = net.createServer((client) => {
    const pair: [net.Socket, net.Socket | undefined] = [client, undefined];
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pairs.delete(pair);
      pair[1]?.destroy();
    });
    if (mode === 'blackhole') return client.pause(); // accepted, never answered
    const upstream = net.connect(target.port, target.host);
    pair[1] = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const listening = () => server.listening;
  const down = () =>
    new Promise((r) => {
      server.close(r);
      for (const [c, u] of pairs) {
        c.destroy();
        u?.destroy();
      }
    });
  return {
    port,
    async pass() {
      if (mode === 'blackhole') for (const [c, u] of pairs) (c.destroy(), u?.destroy()); // what was cut stays cut
      mode = 'pass';
      if (!listening()) await new Promise<void>((r, j) => server.once('error', j).listen(port, '127.0.0.1', () => r()));
    },
    async down() {
      await down();
    },
    blackhole() {
      mode = 'blackhole';
      for (const [c, u] of pairs) {
        c.unpipe();
        u?.unpipe();
        c.pause();
        u?.pause();
      }
    },
    async close() {
      if (listening() || pairs.size > 0) await down();
    },
  };
}
