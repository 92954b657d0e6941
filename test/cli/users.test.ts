import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { BIN, runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-users-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const newDb = () => join(dir, `u${n++}.db`);
const ndjson = (text: string) => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
const emailsOf = (text: string) => ndjson(text).map((u) => u.email);

it('adds, lists, shows and removes users; a name given twice is added once', async () => {
  const db = newDb();
  const add = await runCli(['users', 'add', 'a@qt-test.com', 'b@qt-test.com', 'a@qt-test.com', '--db', db]);
  expect(add.code).toBe(0);
  expect(add.stderr).toBe('added a@qt-test.com\nadded b@qt-test.com\n');
  expect((await runCli(['users', 'add', 'a@qt-test.com', '--db', db])).stderr).toBe('exists a@qt-test.com\n');
  const json = await runCli(['users', 'list', '--json', '--db', db]);
  expect(json.stdout).toMatch(/^\{"email":"a@qt-test\.com",.*\}\n\{"email":"b@qt-test\.com",.*\}\n$/); // NDJSON: one object per line
  const list = ndjson(json.stdout);
  expect(list.map((u) => u.email)).toEqual(['a@qt-test.com', 'b@qt-test.com']);
  expect(list[0]).toMatchObject({ lastSeen: null, lastSeenNs: null, ip: null, port: null });
  const text = await runCli(['users', 'list', '--db', db]);
  expect(text.stdout).toMatch(/^EMAIL +LAST SEEN \(UTC\) +AGE +IP +PORT\na@qt-test\.com +never\n/);
  expect((await runCli(['users', 'remove', 'b@qt-test.com', '--db', db])).code).toBe(0);
  const gone = await runCli(['users', 'show', 'b@qt-test.com', '--db', db]);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toBe(`qtstatus: no user b@qt-test.com in sqlite:${db} (add it: qtstatus users add b@qt-test.com)\n`);
  const notThere = await runCli(['users', 'remove', 'b@qt-test.com', '--db', db]);
  expect(notThere.stderr).toBe(`qtstatus: no user b@qt-test.com in sqlite:${db}\n`);
});

it('refuses what is not an email address as a usage error', async () => {
  const r = await runCli(['users', 'add', 'not_an_email', '--db', join(dir, 'x.db')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/not an email address: "not_an_email"/);
});

it('does not create a database to list, show or remove from', async () => {
  const typo = join(dir, 'typo.db');
  for (const args of [['list'], ['show', 'a@qt-test.com'], ['remove', 'a@qt-test.com']]) {
    const r = await runCli(['users', ...args, '--db', typo]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/there is no database at .*typo\.db/);
  }
  expect(existsSync(typo)).toBe(false);
});

it('--help says what --db takes', async () => {
  const help = (await runCli(['users', 'list', '--help'])).stdout.replace(/\s+/g, ' ');
  expect(help).toMatch(/--db <file\|url> SQLite file or postgres:\/\/ URL \(default: "qtstatus\.db", env: QTSTATUS_DB\)/);
  expect(help).toMatch(/last-seen: the most recently seen first, never-seen users last/);
});

describe('users add --from', () => {
  it('reads one address per line from a file: blank lines, # comments, CRLF and a BOM are fine', async () => {
    const db = newDb();
    const file = join(dir, 'list.txt');
    writeFileSync(file, '\ufeffa@qt-test.com\r\n\r\n# staff\n  # indented comment\nb@qt-test.com\r\na@qt-test.com\nc@qt-test.com');
    const r = await runCli(['users', 'add', '--from', file, '--db', db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`added 3, already there 1 (4 addresses from ${file}; 3 blank or comment lines skipped)\n`);
    expect(r.stdout).toBe('');
    expect(emailsOf((await runCli(['users', 'list', '--json', '--db', db])).stdout)).toEqual(['a@qt-test.com', 'b@qt-test.com', 'c@qt-test.com']);
    const again = await runCli(['users', 'add', '-f', file, '--db', db, '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ added: 0, alreadyThere: 4, addresses: 4, skippedLines: 3 });
  });

  it('reads standard input with -, in batches: 25,000 addresses', async () => {
    const db = newDb();
    const lines = Array.from({ length: 25_000 }, (_, i) => `user${i}@qt-test.com`);
    const r = await runCli(['users', 'add', '--from', '-', '--db', db, '--json'], { input: `${lines.join('\n')}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ added: 25_000, alreadyThere: 0, addresses: 25_000, skippedLines: 0 });
    expect(r.stderr).toBe('added 25000, already there 0 (25000 addresses from standard input)\n');
    const s = SqliteStore.open(db);
    let count = 0;
    for await (const _ of s.listUsers()) count++;
    expect(count).toBe(25_000);
    await s.close();
  });

  it('checks every line first: bad lines are listed with their numbers, escaped, and nothing is written', async () => {
    const db = newDb();
    const file = join(dir, 'bad.txt');
    writeFileSync(file, ['good@qt-test.com', 'no at sign', '', 'evil\u202e@qt-test.com', 'x\u001b[2J@qt-test.com', ' padded@qt-test.com', 'also-good@qt-test.com'].join('\n'));
    const r = await runCli(['users', 'add', '--from', file, '--db', db]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      '  line 2: "no at sign" (it has no @)\n' +
        '  line 4: "evil\\u{202e}@qt-test.com" (it contains an invisible, format or bidi-control character)\n' +
        '  line 5: "x\\u001b[2J@qt-test.com" (it contains a control character)\n' +
        '  line 6: " padded@qt-test.com" (local part is not an ASCII dot-atom or quoted string)\n' +
        `qtstatus: 4 lines of ${file} are not email addresses (line numbers above); nothing was added (one address per line; blank lines and lines starting with # are skipped; fix or remove the bad lines and run again)\n`,
    );
    expect(existsSync(db)).toBe(false); // not even an empty database
    // Into a database that exists: still nothing.
    await runCli(['users', 'add', 'first@qt-test.com', '--db', db]);
    expect((await runCli(['users', 'add', '--from', '-', '--db', db], { input: 'new@qt-test.com\nbad\n' })).code).toBe(2);
    expect(emailsOf((await runCli(['users', 'list', '--json', '--db', db])).stdout)).toEqual(['first@qt-test.com']);
  });

  it('lists the first 20 bad lines and counts the rest; an over-long line is cut short', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => `bad${i}`);
    lines.splice(3, 0, `${'x'.repeat(10_000)}@qt-test.com`);
    const r = await runCli(['users', 'add', '--from', '-', '--db', newDb()], { input: lines.join('\n') });
    expect(r.code).toBe(2);
    const shown = r.stderr.split('\n').filter((l) => l.startsWith('  line '));
    expect(shown).toHaveLength(20);
    expect(shown[3]).toBe(`  line 4: "${'x'.repeat(100)}…" (it is empty or longer than 320 characters)`);
    expect(r.stderr).toContain('  … and 11 more bad lines\n');
    expect(r.stderr).toMatch(/31 lines of standard input are not email addresses/);
  });

  it('takes addresses as arguments or --from, not both, and not neither', async () => {
    const both = await runCli(['users', 'add', 'a@qt-test.com', '--from', '-', '--db', newDb()]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/either as arguments or with --from, not both/);
    const none = await runCli(['users', 'add', '--db', newDb()]);
    expect(none.code).toBe(2);
    const missing = await runCli(['users', 'add', '--from', join(dir, 'none.txt'), '--db', newDb()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*none\.txt: ENOENT/);
  });
});

describe('users list', () => {
  const MIN = 60_000_000_000n;
  /** Users seen 1 minute, 10 minutes, 2 days ago and never. */
  async function seeded(): Promise<string> {
    const db = newDb();
    const s = SqliteStore.open(db);
    const now = BigInt(Date.now()) * 1_000_000n;
    await s.addUsers(['never@qt-test.com', 'old@qt-test.com', 'recent@qt-test.com', 'mid@qt-test.com'], 1n);
    await s.recordSeen({ email: 'recent@qt-test.com', nowNs: now - MIN, ip: '192.0.2.1', port: 1001, enroll: false });
    await s.recordSeen({ email: 'mid@qt-test.com', nowNs: now - 10n * MIN, ip: '2001:db8::1\u001b[31m', port: 1002, enroll: false });
    await s.recordSeen({ email: 'old@qt-test.com', nowNs: now - 2n * 1440n * MIN, ip: '192.0.2.3', port: 1003, enroll: false });
    await s.close();
    return db;
  }
  const list = async (db: string, ...args: string[]) => {
    const r = await runCli(['users', 'list', '--json', '--db', db, ...args]);
    expect(r.code, r.stderr).toBe(0);
    return emailsOf(r.stdout);
  };

  it('sorts by last seen (newest first, never seen last) and filters by how recently a user was seen', async () => {
    const db = await seeded();
    expect(await list(db)).toEqual(['mid@qt-test.com', 'never@qt-test.com', 'old@qt-test.com', 'recent@qt-test.com']);
    expect(await list(db, '--sort', 'last-seen')).toEqual(['recent@qt-test.com', 'mid@qt-test.com', 'old@qt-test.com', 'never@qt-test.com']);
    expect(await list(db, '--seen-within', '5m')).toEqual(['recent@qt-test.com']);
    expect(await list(db, '--seen-within', '1d', '--sort', 'last-seen')).toEqual(['recent@qt-test.com', 'mid@qt-test.com']);
    expect(await list(db, '--not-seen-within', '1d')).toEqual(['never@qt-test.com', 'old@qt-test.com']);
    expect(await list(db, '--not-seen-within', '5m', '--seen-within', '1h')).toEqual(['mid@qt-test.com']);
    expect(await list(db, '--seen-within', '30s')).toEqual([]);
    const bad = await runCli(['users', 'list', '--seen-within', 'soon', '--db', db]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"soon" is not a duration/);
    expect((await runCli(['users', 'list', '--sort', 'name', '--db', db])).code).toBe(2);
  });

  it('prints JSON lines with every field, and a table whose values are escaped', async () => {
    const db = await seeded();
    const [first] = ndjson((await runCli(['users', 'list', '--json', '--sort', 'last-seen', '--db', db])).stdout);
    expect(first).toMatchObject({ email: 'recent@qt-test.com', ip: '192.0.2.1', port: 1001, ageSeconds: expect.any(Number) });
    expect(String(first?.lastSeenNs)).toMatch(/^\d{19}$/);
    const text = await runCli(['users', 'list', '--sort', 'last-seen', '--db', db]);
    const rows = text.stdout.split('\n');
    // Widths from the first page: the longest email, a 24-character time, "60s ago", the escaped IPv6 address.
    expect(rows[0]).toMatch(/^EMAIL {15}LAST SEEN \(UTC\) {11}AGE {6}IP {19}PORT$/);
    expect(rows[1]).toMatch(/^recent@qt-test\.com  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  6\ds ago  192\.0\.2\.1 {12}1001$/);
    expect(rows[2]).toContain('2001:db8::1\\x1b[31m  1002');
    expect(text.stdout).not.toContain('\u001b');
    expect(rows[4]).toBe('never@qt-test.com   never');
  });

  it('says so when no user matches, naming the store by its description', async () => {
    const db = newDb();
    await runCli(['users', 'add', 'a@qt-test.com', '--db', db]);
    await runCli(['users', 'remove', 'a@qt-test.com', '--db', db]);
    const none = await runCli(['users', 'list', '--db', db]);
    expect(none.stderr).toBe(`no users in sqlite:${db} (add some: qtstatus users add EMAIL)\n`);
    const filtered = await runCli(['users', 'list', '--seen-within', '5m', '--db', db]);
    expect(filtered.stderr).toBe(`no users seen within 5m in sqlite:${db}\n`);
    const json = await runCli(['users', 'list', '--json', '--db', db]);
    expect([json.code, json.stdout]).toEqual([0, '']);
  });

  it('stops quietly when the reader goes away (| head)', async () => {
    const db = newDb();
    const s = SqliteStore.open(db);
    await s.addUsers(Array.from({ length: 20_000 }, (_, i) => `h${i}@qt-test.com`), 1n);
    await s.close();
    const child = spawn(process.execPath, [BIN, 'users', 'list', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((r) => child.on('close', r));
    expect([code, err]).toEqual([0, '']);
  });

  // The behaviour bound of a streaming list: its peak memory does not grow
  // with the number of users. Measured in the child itself (ru_maxrss at
  // exit), against the same command over 100 users.
  it('keeps its peak memory flat: 200,000 users take no more than 100 do, plus 40 MB', async () => {
    const small = newDb();
    const big = newDb();
    for (const [db, count] of [[small, 100], [big, 200_000]] as const) {
      const s = SqliteStore.open(db);
      for (let i = 0; i < count; i += 10_000) {
        await s.addUsers(Array.from({ length: Math.min(10_000, count - i) }, (_, k) => `user${String(i + k).padStart(7, '0')}@qt-test.com`), 1n);
      }
      await s.close();
    }
    const hook = join(dir, 'peak.mjs');
    writeFileSync(hook, "import { writeSync } from 'node:fs';\nprocess.on('exit', () => writeSync(2, `peak-rss-kb ${process.resourceUsage().maxRSS}\\n`));\n");
    const peakKb = async (db: string, json: boolean) => {
      const out = openSync('/dev/null', 'w');
      try {
        const child = spawn(process.execPath, ['--import', hook, BIN, 'users', 'list', '--db', db, ...(json ? ['--json'] : [])], { stdio: ['ignore', out, 'pipe'] });
        let err = '';
        child.stderr?.on('data', (d: Buffer) => (err += d));
        const code = await new Promise((r) => child.on('close', r));
        expect(code, err).toBe(0);
        return Number(/peak-rss-kb (\d+)/.exec(err)?.[1]);
      } finally {
        closeSync(out);
      }
    };
    for (const json of [false, true]) {
      const base = await peakKb(small, json);
      const peak = await peakKb(big, json);
      expect(base).toBeGreaterThan(10_000);
      expect(peak, `${json ? '--json' : 'table'}: ${peak} KB over 200,000 users, ${base} KB over 100`).toBeLessThan(base + 40 * 1024);
    }
  }, 60_000);
});
