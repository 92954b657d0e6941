// The PostgreSQL store: the contract every engine passes, then what only a
// database server has: credentials, several hosts, TLS, outages, and the
// CLI (`users`, `serve --workers`, /healthz) on it. Needs a server:
// QTSTATUS_TEST_PG (.ci/run starts one); skipped otherwise.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QtError } from '../../src/errors.ts';
import { initCertificates } from '../../src/pki/make.ts';
import { maskPasswords, parsePostgresUrl } from '../../src/store/pg-config.ts';
import { openStore } from '../../src/store/open.ts';
import { PostgresStore } from '../../src/store/postgres.ts';
import { collectUsers } from '../../src/store/store.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { request } from '../helpers/https.ts';
import { makeTestPki, VALID_USER } from '../helpers/pki.ts';
import {
  addressOf, adminQuery, closedPort, dropDatabases, freshDatabase, PG_CA, PG_PASSWORD_URL, PG_URL, SKIP_MESSAGE, tcpProxy, terminateBackends, withUrl,
} from '../helpers/postgres.ts';
import { storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-pg-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (PG_URL) await dropDatabases();
});
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dbName = (url: string) => new URL(url).pathname.slice(1);
const seen = (email: string, nowNs: bigint, port = 1) => ({ email, nowNs, ip: '127.0.0.1', port, enroll: false });

/** The error `fn` throws, which must be a QtError. */
async function failure(fn: () => Promise<unknown>): Promise<QtError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(QtError);
    return err as QtError;
  }
  throw new Error('expected a failure');
}
const fullText = (e: QtError) => `${e.message} ${e.hint ?? ''} ${String((e.cause as Error)?.message ?? '')}`;

// Reading URLs needs no server.
describe('postgres:// URLs', () => {
  it('reads hosts, ports, user, database and options as libpq does, and shows no password', () => {
    const c = parsePostgresUrl('postgresql://al%40ice:s3cr%3At@db1,db2:5433,[::1]:6000/status?sslmode=require&connect_timeout=3&application_name=x&options=-c%20search_path%3Dqt');
    expect(c.hosts).toEqual([{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }, { host: '::1', port: 6000 }]);
    expect(c).toMatchObject({ user: 'al@ice', password: 's3cr:t', database: 'status', sslmode: 'require', connectTimeoutMs: 3000, applicationName: 'x', settings: { search_path: 'qt' } });
    expect(c.masked).toBe('postgres://al%40ice:***@db1:5432,db2:5433,[::1]:6000/status?sslmode=require');
    expect(c.masked).not.toContain('s3cr');
    expect(parsePostgresUrl('postgres://u@h/d', { PGPASSWORD: 'pw' })).toMatchObject({ password: 'pw', masked: 'postgres://u@h:5432/d' });
    expect(parsePostgresUrl('postgres://u@h/d?host=a,b&port=1,2').hosts).toEqual([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    // ?host= replaces the URL's hosts, not their ports (libpq); PGPORT only when neither gives one.
    expect(parsePostgresUrl('postgres://u@127.0.0.1:33393/d?host=/run/postgresql').hosts).toEqual([{ host: '/run/postgresql', port: 33393 }]);
    expect(parsePostgresUrl('postgres://u@:5433/d?host=/tmp', { PGPORT: '6000' }).hosts).toEqual([{ host: '/tmp', port: 5433 }]);
    expect(parsePostgresUrl('postgres://u@h/d?host=/tmp', { PGPORT: '6000' }).hosts).toEqual([{ host: '/tmp', port: 6000 }]);
    expect(parsePostgresUrl('postgres://u@h1:1,h2:2/d?host=a,b').hosts).toEqual([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    expect(() => parsePostgresUrl('postgres://u@h1:1,h2:2/d?host=a')).toThrow(/2 ports for 1 hosts/);
    expect(() => parsePostgresUrl('postgres://u@a,b,c/d?port=1,2')).toThrow(/2 ports for 3 hosts/);
    expect(() => parsePostgresUrl('postgres://u@h/d?sslmode=verify-full')).toThrow(/needs the CA/);
    expect(() => parsePostgresUrl('postgres://u@h/d?bogus=1')).toThrow(/unknown parameter "bogus"/);
    expect(() => parsePostgresUrl('postgres://u@h:99999/d')).toThrow(/not a port number/);
    expect(maskPasswords('at postgres://u:pw@h/d and ?password=x&y')).toBe('at postgres://u:***@h/d and ?password=***&y');
  });
});

if (!PG_URL) {
  console.warn(SKIP_MESSAGE);
  describe('postgres store', () => it.skip(SKIP_MESSAGE, () => {}));
} else {
  const admin = PG_URL;
  const server = addressOf(admin);

  storeContract('postgres', () => freshDatabase());

  describe('postgres store at start', () => {
    it('names the host and the problem for an unknown database, never the password', async () => {
      const url = withUrl(admin, { database: 'no_such_db_qt', password: 'SECRET-pw-1' });
      const e = await failure(() => openStore(url));
      expect(e.message).toContain(`${server.host}:${server.port}`);
      expect(e.message).toContain('database "no_such_db_qt" does not exist');
      expect(fullText(e)).not.toContain('SECRET-pw-1');
    });

    it('names the host for an unreachable one (a closed port), never the password', async () => {
      const port = await closedPort();
      const e = await failure(() => openStore(`postgres://qt:SECRET-pw-2@127.0.0.1:${port}/x`));
      expect(e.message).toMatch(new RegExp(`cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} .*connection refused`));
      expect(e.hint).toMatch(/is PostgreSQL running there/);
      expect(e).toMatchObject({ reason: 'db_refused', setting: 'db' });
      expect(fullText(e)).not.toContain('SECRET-pw-2');
      // The CLI names the setting the way it was given.
      const r = await runCli(['users', 'list'], { env: { QTSTATUS_DB: `postgres://qt:SECRET-pw-2@127.0.0.1:${port}/x` } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/\(is PostgreSQL running there\? Check the host and port in QTSTATUS_DB\)\n$/);
      expect(r.stderr).not.toContain('SECRET-pw-2');
      const bad = await runCli(['users', 'list', '--db', 'postgres://u@h/d?bogus=1']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^qtstatus: --db: bad PostgreSQL URL: unknown parameter "bogus"/);
    });

    it('gives up on a host that accepts and never answers, within connect_timeout', async () => {
      const proxy = await tcpProxy(server);
      proxy.blackhole();
      const started = Date.now();
      const e = await failure(() => openStore(withUrl(admin, { hosts: `127.0.0.1:${proxy.port}`, query: 'connect_timeout=2' })));
      expect(Date.now() - started).toBeLessThan(4000);
      expect(e.message).toContain(`127.0.0.1:${proxy.port}`);
      await proxy.close();
    });

    it('a Unix socket: ?host=DIRECTORY with the port from the URL, as libpq', async () => {
      const dirs = String((await adminQuery('SHOW unix_socket_directories')).rows[0]?.unix_socket_directories ?? '');
      const dir = dirs.split(',')[0]?.trim() ?? '';
      if (!dir.startsWith('/')) return; // a server without one
      const db = await freshDatabase();
      const s = await openStore(withUrl(db, { query: `host=${encodeURIComponent(dir)}` }), { writeTimeoutMs: 2000 });
      await s.addUsers(['u@example.com'], 1n);
      expect(await s.recordSeen(seen('u@example.com', 5n))).toMatchObject({ lastSeenNs: 5n });
      expect(s.description).toContain(dir);
      await s.close();
    });

    it('refuses a host that only reads (target_session_attrs=read-write)', async () => {
      const db = await freshDatabase();
      const e = await failure(() => openStore(withUrl(db, { query: 'options=-c%20default_transaction_read_only%3Don' })));
      expect(e.message).toMatch(/read-only/);
    });

    it('reads: a missing schema is an error with mustExist, and made otherwise', async () => {
      const db = await freshDatabase();
      const e = await failure(() => openStore(db, { mustExist: true }));
      expect(e.message).toMatch(/there is no qtstatus database at postgres:\/\/.*its tables are missing/);
      await (await openStore(db)).close();
      await (await openStore(db, { mustExist: true, verify: true })).close();
    });

    it('migrates once when several processes open a new database at the same time', async () => {
      const db = await freshDatabase();
      const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(db)));
      await Promise.all(stores.map((s) => s.close()));
      const r = await adminQuery(`SELECT (SELECT count(*) FROM pg_tables WHERE tablename = 'users')::int AS tables, (SELECT count(*) FROM qtstatus_schema)::int AS versions`, [], db);
      expect(r.rows[0]).toEqual({ tables: 1, versions: 1 });
    });

    it('refuses a database of a newer qtstatus', async () => {
      const db = await freshDatabase();
      await (await openStore(db)).close();
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: db });
      await c.connect();
      await c.query('UPDATE qtstatus_schema SET version = 99');
      await c.end();
      expect((await failure(() => openStore(db))).message).toMatch(/schema version 99, newer than this qtstatus knows/);
    });
  });

  describe.skipIf(!PG_PASSWORD_URL)('postgres passwords', () => {
    const pwUrl = PG_PASSWORD_URL as string;
    const password = decodeURIComponent(new URL(pwUrl).password);
    const user = decodeURIComponent(new URL(pwUrl).username);
    const ownDb = async () => withUrl(pwUrl, { database: dbName(await freshDatabase(user)) });

    it('a wrong password: names the user and the host, never the password', async () => {
      const url = withUrl(await ownDb(), { password: 'WRONG-secret-9' });
      const e = await failure(() => openStore(url));
      expect(e.message).toContain(`${server.host}:${server.port}`);
      expect(e.message).toContain(`password authentication failed for user "${user}"`);
      expect(e.hint).toMatch(/password file/);
      expect(fullText(e)).not.toContain('WRONG-secret-9');
      expect(fullText(e)).not.toContain(password);
    });

    it('the password from the URL, masked in the description', async () => {
      const s = await openStore(await ownDb());
      expect(s.description).toMatch(new RegExp(`^postgres://${user}:\\*\\*\\*@`));
      expect(s.description).not.toContain(password);
      await s.close();
    });

    it('the password from a password file: PGPASSFILE or passfile=, none at all is a clear error', async () => {
      const url = withUrl(await ownDb(), { password: null });
      const file = join(dir, 'pgpass');
      writeFileSync(file, `# test\nother:1:*:*:nope\n${server.host}:${server.port}:*:${user}:${password.replace(/[:\\]/g, '\\$&')}\n`, { mode: 0o600 });
      const a = await openStore(url, { env: { PGPASSFILE: file } });
      expect(a.description).not.toContain('***');
      await a.addUsers(['p@example.com'], 1n);
      await a.close();
      const b = await openStore(`${url}?passfile=${encodeURIComponent(file)}`, { env: {} });
      expect(await b.getUser('p@example.com')).toMatchObject({ email: 'p@example.com' });
      await b.close();
      chmodSync(file, 0o644);
      expect((await failure(() => openStore(url, { env: { PGPASSFILE: file } }))).message).toMatch(/may be read by others/);
      const e = await failure(() => openStore(url, { env: { PGPASSFILE: join(dir, 'none') } }));
      expect(e.message).toMatch(/cannot read the password file|asks for a password/);
    });
  });

  describe.skipIf(!PG_PASSWORD_URL)('users commands on PostgreSQL with a password in the URL', () => {
    it('bulk add from standard input, NDJSON list and the messages: the password never shown', async () => {
      const pwUrl = PG_PASSWORD_URL as string;
      const password = decodeURIComponent(new URL(pwUrl).password);
      const user = decodeURIComponent(new URL(pwUrl).username);
      const db = withUrl(pwUrl, { database: dbName(await freshDatabase(user)) });
      const env = { QTSTATUS_DB: db };
      const lines = Array.from({ length: 12_345 }, (_, i) => `bulk${i}@example.com`);
      const add = await runCli(['users', 'add', '--from', '-'], { env, input: `# all of them\n${lines.join('\r\n')}\n${lines[7]}\n` });
      expect(add.code, add.stderr).toBe(0);
      expect(add.stderr).toBe('added 12345, already there 1 (12346 addresses from standard input; 1 blank or comment line skipped)\n');
      const bad = await runCli(['users', 'add', '--from', '-'], { env, input: 'fine@example.com\nnope\n' });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('  line 2: "nope" (it has no @)\n');
      const list = await runCli(['users', 'list', '--json'], { env });
      expect(list.code, list.stderr).toBe(0);
      const emails = list.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { email: string }).email);
      expect(emails).toHaveLength(12_345); // "fine" was not added
      expect(new Set(emails)).toEqual(new Set(lines)); // in the database's collation order
      const none = await runCli(['users', 'list', '--seen-within', '1h'], { env });
      expect(none.code).toBe(0);
      expect(none.stderr).toMatch(new RegExp(`^no users seen within 1h in postgres://${user}:\\*\\*\\*@`));
      const show = await runCli(['users', 'show', 'nobody@example.com'], { env });
      const remove = await runCli(['users', 'remove', 'nobody@example.com'], { env });
      for (const r of [show, remove]) {
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`no user nobody@example\\.com in postgres://${user}:\\*\\*\\*@`));
      }
      for (const r of [add, bad, list, none, show, remove]) expect(r.stderr + r.stdout).not.toContain(password);
    }, 60_000);
  });

  describe('postgres hosts and TLS', () => {
    it('a URL with two hosts where the first is down', async () => {
      const db = await freshDatabase();
      const down = await closedPort();
      const url = withUrl(db, { hosts: `127.0.0.1:${down},${server.host}:${server.port}` });
      const s = await openStore(url);
      expect(s.description).toContain(`127.0.0.1:${down},${server.host}:${server.port}`);
      await s.addUsers(['two@example.com'], 1n);
      expect(await s.recordSeen(seen('two@example.com', 5n))).toMatchObject({ lastSeenNs: 5n });
      await s.close();
    });

    it('fails over to the next host without a restart', async () => {
      const db = await freshDatabase();
      const first = await tcpProxy(server);
      const second = await tcpProxy(server);
      const s = await openStore(withUrl(db, { hosts: `127.0.0.1:${first.port},127.0.0.1:${second.port}` }), { writeTimeoutMs: 2000 });
      await s.addUsers(['f@example.com'], 1n);
      expect(await s.recordSeen(seen('f@example.com', 1n))).toMatchObject({ lastSeenNs: 1n });
      await first.down();
      expect(await s.recordSeen(seen('f@example.com', 2n))).toMatchObject({ lastSeenNs: 2n });
      await expect(s.check()).resolves.toBeUndefined();
      await s.close();
      await second.close();
    });

    describe.skipIf(!PG_CA)('TLS', () => {
      it('sslmode=verify-full with the CA: the connection is encrypted and checked', async () => {
        const db = await freshDatabase();
        for (const host of ['127.0.0.1', 'localhost']) {
          const url = withUrl(db, { hosts: `${host}:${server.port}`, query: `sslmode=verify-full&sslrootcert=${encodeURIComponent(PG_CA as string)}&application_name=qt_tls_${host.replace(/\W/g, '')}` });
          const s = await openStore(url);
          await s.addUsers([`tls-${host}@example.com`], 1n);
          const r = await adminQuery('SELECT bool_and(s.ssl) AS ssl, count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1', [`qt_tls_${host.replace(/\W/g, '')}`]);
          expect(r.rows[0]).toMatchObject({ ssl: true });
          expect((r.rows[0] as { n: number }).n).toBeGreaterThan(0);
          await s.close();
        }
      });

      it('sslmode=verify-full with another CA: refused, with the reason', async () => {
        const other = join(dir, 'other-ca');
        await initCertificates({ dir: other, hosts: [{ kind: 'dns', value: 'localhost' }], clients: ['x@example.com'], days: 2, caDays: 2, keyType: 'ecdsa-p256', force: false });
        const url = withUrl(admin, { query: `sslmode=verify-full&sslrootcert=${encodeURIComponent(join(other, 'ca.crt'))}` });
        const e = await failure(() => openStore(url));
        expect(e.message).toContain(`${server.host}:${server.port}`);
        expect(e.message).toMatch(/TLS certificate is not trusted/);
      });
    });
  });

  describe('postgres outages', () => {
    const through = async (writeTimeoutMs: number) => {
      const db = await freshDatabase();
      const proxy = await tcpProxy(server);
      const s = await openStore(withUrl(db, { hosts: `127.0.0.1:${proxy.port}` }), { writeTimeoutMs, verify: true });
      await s.addUsers(['o@example.com'], 1n);
      return { s, proxy, db };
    };
    /** Resolves when the promise settles, with how long it took. */
    const timed = async <T>(p: Promise<T>) => {
      const t = Date.now();
      const r = await p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e }));
      return { ...r, ms: Date.now() - t };
    };

    for (const kind of ['down', 'blackhole'] as const) {
      it(`the database ${kind === 'down' ? 'goes down (refused)' : 'stops answering (a cut network)'}: 503 within the bound, /healthz degraded, then it recovers by itself`, async () => {
        const { s, proxy } = await through(800);
        expect(await s.recordSeen(seen('o@example.com', 10n))).toMatchObject({ lastSeenNs: 10n });
        if (kind === 'down') await proxy.down();
        else proxy.blackhole();
        const update = await timed(s.recordSeen(seen('o@example.com', 20n)));
        expect(update.ok).toBe(false);
        expect(update.ms).toBeLessThan(800 + 700); // the bound, and some slack for a busy machine
        expect(String((update as { e: Error }).e.message)).toMatch(/not committed within 800 ms/);
        const health = await timed(s.check());
        expect(health.ok).toBe(false);
        expect(health.ms).toBeLessThan(2000 + 700); // /healthz's probe has its own bound
        await proxy.pass();
        let value: unknown;
        for (let i = 0; i < 20 && value === undefined; i++) {
          value = await s.recordSeen(seen('o@example.com', 30n + BigInt(i))).catch(() => undefined);
          if (value === undefined) await tick(100);
        }
        expect(value).toMatchObject({ lastSeenNs: expect.any(BigInt) });
        await expect(s.check()).resolves.toBeUndefined();
        await s.close();
        await proxy.close();
      });
    }

    it('connections killed under it (pg_terminate_backend): the next updates succeed on new ones', async () => {
      const { s, proxy, db } = await through(2000);
      expect(await s.recordSeen(seen('o@example.com', 1n))).toMatchObject({ lastSeenNs: 1n });
      expect(await terminateBackends(dbName(db))).toBeGreaterThan(0);
      await tick(50);
      const answers = await Promise.all([2n, 3n, 4n].map((t) => s.recordSeen(seen('o@example.com', t))));
      expect(answers).toEqual([2n, 3n, 4n].map((t) => ({ lastSeenNs: t, ip: '127.0.0.1', port: 1 })));
      await expect(s.check()).resolves.toBeUndefined();
      await s.close();
      await proxy.close();
    });

    it('the updates\' connection killed more times than the pool has connections: each time a new one, nothing leaks', async () => {
      const { s, proxy, db } = await through(2000);
      for (let i = 1n; i <= 6n; i++) {
        expect(await s.recordSeen(seen('o@example.com', i))).toMatchObject({ lastSeenNs: i });
        expect(await terminateBackends(dbName(db))).toBeGreaterThan(0);
        await tick(30);
      }
      expect(await s.recordSeen(seen('o@example.com', 7n))).toMatchObject({ lastSeenNs: 7n });
      await expect(s.check()).resolves.toBeUndefined();
      expect((await collectUsers(s.listUsers())).find((u) => u.email === 'o@example.com')?.lastSeenNs).toBe(7n);
      await s.close();
      await proxy.close();
    });

    it('answers no update that is not committed, through an outage', async () => {
      const { s, proxy, db } = await through(500);
      const resolved: bigint[] = [];
      let rejected = 0;
      let t = 100n;
      const stream = (async () => {
        for (let i = 0; i < 60; i++) {
          const batch = [t++, t++, t++].map((n) => s.recordSeen(seen('o@example.com', n)).then((v) => v && resolved.push(n), () => rejected++));
          await Promise.all(batch);
          await tick(20);
        }
      })();
      await tick(300);
      proxy.blackhole();
      await tick(900);
      await proxy.pass();
      await stream;
      expect(rejected).toBeGreaterThan(0);
      expect(resolved.length).toBeGreaterThan(0);
      await s.close();
      // Every update answered as recorded is in the database: the last of them at least.
      const check = await openStore(db);
      const stored = (await check.getUser('o@example.com'))?.lastSeenNs ?? 0n;
      expect(stored).toBeGreaterThanOrEqual(resolved.reduce((a, b) => (b > a ? b : a), 0n));
      await check.close();
      await proxy.close();
    });
  });

  describe('qtstatus on PostgreSQL', () => {
    it('`users` commands, `serve --workers 2` and /healthz work on it, with the password in QTSTATUS_DB', async () => {
      const pki = await makeTestPki();
      try {
        const db = await freshDatabase();
        const env = { QTSTATUS_DB: db };
        const add = await runCli(['users', 'add', VALID_USER, 'other@example.com'], { env });
        expect(add.code, add.stderr).toBe(0);
        expect((await runCli(['users', 'remove', 'other@example.com'], { env })).code).toBe(0);
        const proc = new CliProcess([
          'serve', '--workers', '2', '--host', '127.0.0.1', '--port', '0', '--db', db, '--rate-limit', '0',
          '--cert', pki.server.cert, '--key', pki.server.key, '--ca', pki.ca, '--udp-source-port', '0', '--udp-target', '127.0.0.1:9',
        ], { timeoutMs: 40_000 });
        try {
          const m = await proc.waitFor('stderr', /serving https:\/\/127\.0\.0\.1:(\d+) with 2 workers/, 20_000);
          const base = `https://localhost:${m[1]}`;
          const replies = await Promise.all(Array.from({ length: 10 }, () => request(`${base}/api/client`, { ca: pki.ca, ...pki.client })));
          expect(replies.map((r) => r.status)).toEqual(Array(10).fill(204));
          const health = await request(`${base}/healthz`, { ca: pki.ca, method: 'GET' });
          expect(health.status).toBe(200);
          expect(proc.stderr).toMatch(/store postgres:\/\//);
        } finally {
          proc.kill('SIGTERM');
          await proc.done();
        }
        const list = await runCli(['users', 'list', '--json'], { env });
        expect(list.code, list.stderr).toBe(0);
        const users = list.stdout.trim().split('\n').map((l) => JSON.parse(l)) as Array<{ email: string; lastSeenNs: string | null; port: number }>;
        expect(users.map((u) => u.email)).toEqual([VALID_USER]);
        expect(users[0]?.lastSeenNs).not.toBeNull();
        const show = await runCli(['users', 'show', VALID_USER], { env });
        expect(show.code, show.stderr).toBe(0);
      } finally {
        pki.remove();
      }
    }, 60_000);

    it('a store through PostgresStore.open directly has the same description as openStore', async () => {
      const db = await freshDatabase();
      const a = await PostgresStore.open(db);
      const b = await openStore(db);
      expect(a.description).toBe(b.description);
      await Promise.all([a.close(), b.close()]);
    });
  });
}
