// The behaviour every store engine must have; each engine's test runs it
// with a way to make a new, empty database (a --db value: a file or a URL).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.ts';
import { collectUsers, type ListQuery, type Store } from '../../src/store/store.ts';

const OPEN_TS = fileURLToPath(new URL('../../src/store/open.ts', import.meta.url));

/** One process hammering one user (see 'two processes' below); prints a JSON summary. */
const HAMMER = `
import { openStore } from ${JSON.stringify(OPEN_TS)};
const { SPEC, ID, N, START_AT, EMAIL } = process.env;
const id = Number(ID), n = Number(N);
// Interleaved times (this process the even or the odd ones), sent in a shuffled order.
const times = Array.from({ length: n }, (_, i) => BigInt(1_000_000 + 2 * i + id));
let seed = 7 + id;
for (let i = times.length - 1; i > 0; i--) {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  const j = seed % (i + 1);
  [times[i], times[j]] = [times[j], times[i]];
}
const store = await openStore(SPEC);
await new Promise((r) => setTimeout(r, Math.max(0, Number(START_AT) - Date.now())));
let next = 0, behind = 0, mismatched = 0, max = 0n;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (next < times.length) {
    const t = times[next++];
    const seen = await store.recordSeen({ email: EMAIL, nowNs: t, ip: '10.0.0.' + (id + 1), port: Number(t % 60000n) + 1, enroll: false });
    if (!seen || seen.lastSeenNs < t || seen.lastSeenNs < max) behind++;
    // Every update's port is made from its time: an answer's address must be that of the update whose time it gives.
    if (seen && seen.port !== Number(seen.lastSeenNs % 60000n) + 1) mismatched++;
    if (seen && seen.lastSeenNs > max) max = seen.lastSeenNs;
  }
}));
await store.close();
console.log(JSON.stringify({ behind, mismatched, max: String(max) }));
`;

function hammer(spec: string, id: number, n: number, startAt: number, email: string): Promise<{ behind: number; mismatched: number; max: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', HAMMER], {
      env: { ...process.env, SPEC: spec, ID: String(id), N: String(n), START_AT: String(startAt), EMAIL: email },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`hammer ${id} exited ${code}: ${err}`))));
  });
}

export function storeContract(engine: string, newDb: () => Promise<string>): void {
  describe(`${engine} store contract`, () => {
    const withStore = (fn: (s: Store, spec: string) => Promise<void>) => async () => {
      const spec = await newDb();
      const s = await openStore(spec);
      try {
        await fn(s, spec);
      } finally {
        await s.close();
      }
    };
    const seen = (email: string, nowNs: bigint, ip = '127.0.0.1', port = 1, enroll = false) => ({ email, nowNs, ip, port, enroll });

    it('adds, lists, shows and removes users', withStore(async (s) => {
      expect(await s.addUsers(['b@example.com', 'a@example.com'], 10n)).toEqual(['b@example.com', 'a@example.com']);
      expect(await s.addUsers(['a@example.com', 'c@example.com'], 20n)).toEqual(['c@example.com']);
      expect((await collectUsers(s.listUsers())).map((u) => u.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
      expect(await s.getUser('a@example.com')).toEqual({ email: 'a@example.com', createdNs: 10n, lastSeenNs: null, ip: null, port: null });
      expect(await s.removeUser('a@example.com')).toBe(true);
      expect(await s.removeUser('a@example.com')).toBe(false);
      expect(await s.getUser('a@example.com')).toBeUndefined();
    }));

    it('adds many in one call: the new ones once each, in the order given', withStore(async (s) => {
      expect(await s.addUsers(['x@example.com', 'y@example.com', 'x@example.com', 'z@example.com'], 1n)).toEqual(['x@example.com', 'y@example.com', 'z@example.com']);
      expect(await s.addUsers(['z@example.com', 'w@example.com', 'w@example.com'], 2n)).toEqual(['w@example.com']);
      expect(await s.addUsers([], 3n)).toEqual([]);
      expect(await s.getUser('w@example.com')).toEqual({ email: 'w@example.com', createdNs: 2n, lastSeenNs: null, ip: null, port: null });
      expect(await s.getUser('z@example.com')).toMatchObject({ createdNs: 1n });
    }));

    it('lists by email or by last seen (newest first, never seen last), filtered by how recently seen', withStore(async (s) => {
      const e = (c: string) => `${c}@example.com`;
      await s.addUsers(['d', 'b', 'a', 'c', 'e'].map(e), 1n);
      await s.recordSeen(seen(e('a'), 300n, '10.0.0.1', 7));
      await s.recordSeen(seen(e('b'), 100n));
      await s.recordSeen(seen(e('c'), 300n)); // ties with a: by email
      await s.recordSeen(seen(e('e'), 200n));
      // d: never seen
      const emails = async (q?: ListQuery) => (await collectUsers(s.listUsers(q))).map((u) => u.email[0]).join('');
      expect(await emails()).toBe('abcde');
      expect(await emails({ order: 'email' })).toBe('abcde');
      expect(await emails({ order: 'last-seen' })).toBe('acebd');
      expect(await emails({ seenSinceNs: 200n })).toBe('ace'); // at or after
      expect(await emails({ notSeenSinceNs: 200n })).toBe('bd'); // before, or never
      expect(await emails({ order: 'last-seen', seenSinceNs: 100n, notSeenSinceNs: 300n })).toBe('eb');
      expect(await emails({ seenSinceNs: 301n })).toBe('');
      expect(await emails({ notSeenSinceNs: 0n })).toBe('d');
      expect((await collectUsers(s.listUsers({ order: 'last-seen' })))[0]).toEqual({ email: e('a'), createdNs: 1n, lastSeenNs: 300n, ip: '10.0.0.1', port: 7 });
    }));

    it('streams many users page by page; a listing stopped early frees what it held', withStore(async (s) => {
      const n = 2345; // several of either engine's pages
      const all = Array.from({ length: n }, (_, i) => `u${String(i).padStart(5, '0')}@example.com`);
      await s.addUsers([...all].reverse(), 1n);
      expect((await collectUsers(s.listUsers())).map((u) => u.email)).toEqual(all);
      // More listings stopped early than PostgreSQL's pool has connections:
      // each one's cursor is closed and its connection reused.
      for (let k = 0; k < 6; k++) {
        let seenNow = 0;
        for await (const u of s.listUsers({ order: 'last-seen' })) {
          expect(u.email).toBe(all[seenNow]);
          if (++seenNow === 3) break;
        }
      }
      // Two listings at once, and updates while one is open.
      const a = s.listUsers()[Symbol.asyncIterator]();
      const b = s.listUsers({ notSeenSinceNs: 10n })[Symbol.asyncIterator]();
      expect((await a.next()).value?.email).toBe(all[0]);
      expect((await b.next()).value?.email).toBe(all[0]);
      expect(await s.recordSeen(seen(all[n - 1] as string, 5n))).toEqual({ lastSeenNs: 5n, ip: '127.0.0.1', port: 1 });
      expect(await s.addUsers(['zz@example.com'], 2n)).toEqual(['zz@example.com']);
      let rest = 0;
      for (let r = await a.next(); !r.done; r = await a.next()) rest++;
      await b.return?.();
      expect(rest).toBeGreaterThanOrEqual(n - 1);
      expect((await collectUsers(s.listUsers({ order: 'last-seen' })))[0]?.email).toBe(all[n - 1]);
      expect((await collectUsers(s.listUsers())).length).toBe(n + 1);
    }), 60_000);

    it('records last seen for registered users only, exactly as 64-bit nanoseconds', withStore(async (s) => {
      await s.addUsers(['u@example.com'], 1n);
      const now = 1_795_750_670_644_123_457n; // above 2^53: must stay exact
      expect(await s.recordSeen(seen('u@example.com', now, '127.0.0.1', 5000))).toEqual({ lastSeenNs: now, ip: '127.0.0.1', port: 5000 });
      expect(await s.recordSeen(seen('nobody@example.com', now))).toBeUndefined();
      expect(await s.getUser('nobody@example.com')).toBeUndefined();
      expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: now, ip: '127.0.0.1', port: 5000 });
    }));

    it('keeps emails and addresses exactly, quotes and commas included', withStore(async (s) => {
      const odd = '"a,b\\\\c {x}"@example.com';
      expect(await s.addUsers([odd], 1n)).toEqual([odd]);
      expect(await s.recordSeen(seen(odd, 5n, '::ffff:10.0.0.1', 65535))).toEqual({ lastSeenNs: 5n, ip: '::ffff:10.0.0.1', port: 65535 });
      expect(await s.getUser(odd)).toMatchObject({ email: odd, lastSeenNs: 5n, ip: '::ffff:10.0.0.1', port: 65535 });
    }));

    it('never moves last seen backwards, and the address is always the newest update\'s', withStore(async (s) => {
      await s.addUsers(['u@example.com'], 1n);
      await s.recordSeen(seen('u@example.com', 2000n, '::1', 1));
      // Older than the stored time: changes nothing, answers the stored update (time and address).
      expect(await s.recordSeen(seen('u@example.com', 1000n, '127.0.0.2', 2))).toEqual({ lastSeenNs: 2000n, ip: '::1', port: 1 });
      expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: 2000n, ip: '::1', port: 1 });
      // As new as the stored time: the later of the two gives the address.
      expect(await s.recordSeen(seen('u@example.com', 2000n, '127.0.0.3', 3))).toEqual({ lastSeenNs: 2000n, ip: '127.0.0.3', port: 3 });
      expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: 2000n, ip: '127.0.0.3', port: 3 });
      expect(await s.recordSeen(seen('u@example.com', 3000n, '127.0.0.4', 4))).toEqual({ lastSeenNs: 3000n, ip: '127.0.0.4', port: 4 });
      expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: 3000n, ip: '127.0.0.4', port: 4 });
    }));

    it('enrolls an unknown user on first contact when asked', withStore(async (s) => {
      expect(await s.recordSeen(seen('new@example.com', 50n, '10.0.0.1', 9, true))).toEqual({ lastSeenNs: 50n, ip: '10.0.0.1', port: 9 });
      expect(await s.getUser('new@example.com')).toEqual({ email: 'new@example.com', createdNs: 50n, lastSeenNs: 50n, ip: '10.0.0.1', port: 9 });
      expect(await s.recordSeen(seen('new@example.com', 40n, '10.0.0.2', 10, true))).toEqual({ lastSeenNs: 50n, ip: '10.0.0.1', port: 9 });
      expect(await s.getUser('new@example.com')).toMatchObject({ lastSeenNs: 50n, ip: '10.0.0.1', port: 9 });
    }));

    it('answers several updates of one event-loop turn each as if they came one by one', withStore(async (s) => {
      await s.addUsers(['a@example.com', 'b@example.com'], 1n);
      await s.recordSeen(seen('a@example.com', 2000n, '10.0.0.1', 1));
      // All in one turn: the same users several times, out of order, an unknown one, an enrolment.
      const answers = await Promise.all([
        s.recordSeen(seen('a@example.com', 1500n, '10.0.0.2', 2)), // older than stored
        s.recordSeen(seen('b@example.com', 10n, '10.0.1.1', 1)),
        s.recordSeen(seen('a@example.com', 2500n, '10.0.0.3', 3)), // the newest of a
        s.recordSeen(seen('nobody@example.com', 5n)),
        s.recordSeen(seen('a@example.com', 2200n, '10.0.0.4', 4)), // newer than stored, older than 2500
        s.recordSeen(seen('b@example.com', 5n, '10.0.1.2', 2)), // older than the first b
        s.recordSeen(seen('new@example.com', 7n, '10.0.2.1', 1, true)),
        s.recordSeen(seen('new@example.com', 9n, '10.0.2.2', 2, true)),
        s.recordSeen(seen('a@example.com', 2500n, '10.0.0.5', 5)), // ties with the newest: the later one's address
      ]);
      expect(answers).toEqual([
        { lastSeenNs: 2000n, ip: '10.0.0.1', port: 1 },
        { lastSeenNs: 10n, ip: '10.0.1.1', port: 1 },
        { lastSeenNs: 2500n, ip: '10.0.0.3', port: 3 },
        undefined,
        { lastSeenNs: 2500n, ip: '10.0.0.3', port: 3 },
        { lastSeenNs: 10n, ip: '10.0.1.1', port: 1 },
        { lastSeenNs: 7n, ip: '10.0.2.1', port: 1 },
        { lastSeenNs: 9n, ip: '10.0.2.2', port: 2 },
        { lastSeenNs: 2500n, ip: '10.0.0.5', port: 5 },
      ]);
      expect(await s.getUser('a@example.com')).toMatchObject({ lastSeenNs: 2500n, ip: '10.0.0.5', port: 5 });
      expect(await s.getUser('b@example.com')).toMatchObject({ lastSeenNs: 10n, ip: '10.0.1.1', port: 1 });
      expect(await s.getUser('new@example.com')).toEqual({ email: 'new@example.com', createdNs: 7n, lastSeenNs: 9n, ip: '10.0.2.2', port: 2 });
      expect(await s.getUser('nobody@example.com')).toBeUndefined();
    }));

    it('answers a turn of updates none of which may enrol (the server without --auto-enroll) the same way', withStore(async (s) => {
      await s.addUsers(['a@example.com', 'b@example.com'], 1n);
      await s.recordSeen(seen('a@example.com', 2000n, '10.0.0.1', 1));
      const answers = await Promise.all([
        s.recordSeen(seen('a@example.com', 1500n, '10.0.0.2', 2)), // older than stored
        s.recordSeen(seen('b@example.com', 10n, '10.0.1.1', 1)),
        s.recordSeen(seen('nobody@example.com', 5n)),
        s.recordSeen(seen('a@example.com', 2500n, '10.0.0.3', 3)),
        s.recordSeen(seen('b@example.com', 5n, '10.0.1.2', 2)), // older than the first b
        s.recordSeen(seen('a@example.com', 2200n, '10.0.0.4', 4)),
      ]);
      expect(answers).toEqual([
        { lastSeenNs: 2000n, ip: '10.0.0.1', port: 1 },
        { lastSeenNs: 10n, ip: '10.0.1.1', port: 1 },
        undefined,
        { lastSeenNs: 2500n, ip: '10.0.0.3', port: 3 },
        { lastSeenNs: 10n, ip: '10.0.1.1', port: 1 },
        { lastSeenNs: 2500n, ip: '10.0.0.3', port: 3 },
      ]);
      expect(await s.getUser('a@example.com')).toMatchObject({ lastSeenNs: 2500n, ip: '10.0.0.3', port: 3 });
      expect(await s.getUser('b@example.com')).toMatchObject({ lastSeenNs: 10n, ip: '10.0.1.1', port: 1 });
      expect(await s.getUser('nobody@example.com')).toBeUndefined();
    }));

    it('knows a user added through another store on the same database at once', withStore(async (s, spec) => {
      const other = await openStore(spec);
      try {
        expect(await s.recordSeen(seen('later@example.com', 5n))).toBeUndefined();
        await other.addUsers(['later@example.com'], 1n);
        expect(await s.recordSeen(seen('later@example.com', 6n))).toEqual({ lastSeenNs: 6n, ip: '127.0.0.1', port: 1 });
        await other.removeUser('later@example.com');
        expect(await s.recordSeen(seen('later@example.com', 7n))).toBeUndefined();
      } finally {
        await other.close();
      }
    }));

    it('two processes updating the same user at once: last seen is the newest, with its address', withStore(async (s, spec) => {
      const email = 'shared@example.com';
      await s.addUsers([email], 1n);
      const n = 300;
      const startAt = Date.now() + 1500; // both open their store first, then start together
      const [a, b] = await Promise.all([hammer(spec, 0, n, startAt, email), hammer(spec, 1, n, startAt, email)]);
      expect(a.behind + b.behind).toBe(0); // no answer older than its own update or than an earlier answer
      expect(a.mismatched + b.mismatched).toBe(0); // every answer one update's time and address
      const newest = BigInt(1_000_000 + 2 * (n - 1) + 1); // process 1's last odd time
      expect(await s.getUser(email)).toMatchObject({ lastSeenNs: newest, ip: '10.0.0.2', port: Number(newest % 60000n) + 1 });
      expect([BigInt(a.max), BigInt(b.max)]).toContain(newest);
    }), 60_000);

    it('answers a health check', withStore(async (s) => {
      await expect(s.check()).resolves.toBeUndefined();
    }));
  });
}
