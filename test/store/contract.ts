// The behaviour every store engine must have; each engine's test runs it.
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.ts';

export function storeContract(engine: string, open: () => Promise<Store>): void {
  describe(`${engine} store contract`, () => {
    const withStore = (fn: (s: Store) => Promise<void>) => async () => {
      const s = await open();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    };

    it('adds, lists, shows and removes users', withStore(async (s) => {
      expect(await s.addUsers(['b@example.com', 'a@example.com'], 10n)).toEqual(['b@example.com', 'a@example.com']);
      expect(await s.addUsers(['a@example.com', 'c@example.com'], 20n)).toEqual(['c@example.com']);
      expect((await s.listUsers()).map((u) => u.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
      expect(await s.getUser('a@example.com')).toEqual({ email: 'a@example.com', createdNs: 10n, lastSeenNs: null, ip: null, port: null });
      expect(await s.removeUser('a@example.com')).toBe(true);
      expect(await s.removeUser('a@example.com')).toBe(false);
      expect(await s.getUser('a@example.com')).toBeUndefined();
    }));

    it('records last seen for registered users only, exactly as 64-bit nanoseconds', withStore(async (s) => {
      await s.addUsers(['u@example.com'], 1n);
      const now = 1_795_750_670_644_123_457n; // above 2^53: must stay exact
      expect(await s.recordSeen({ email: 'u@example.com', nowNs: now, ip: '127.0.0.1', port: 5000, enroll: false })).toEqual({ lastSeenNs: now });
      expect(await s.recordSeen({ email: 'nobody@example.com', nowNs: now, ip: '127.0.0.1', port: 1, enroll: false })).toBeUndefined();
      expect(await s.getUser('nobody@example.com')).toBeUndefined();
      expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: now, ip: '127.0.0.1', port: 5000 });
    }));

    it('never moves last seen backwards, but keeps the newest address', withStore(async (s) => {
      await s.addUsers(['u@example.com'], 1n);
      await s.recordSeen({ email: 'u@example.com', nowNs: 2000n, ip: '::1', port: 1, enroll: false });
      expect(await s.recordSeen({ email: 'u@example.com', nowNs: 1000n, ip: '127.0.0.2', port: 2, enroll: false })).toEqual({ lastSeenNs: 2000n });
      expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: 2000n, ip: '127.0.0.2', port: 2 });
      expect(await s.recordSeen({ email: 'u@example.com', nowNs: 2000n, ip: '127.0.0.3', port: 3, enroll: false })).toEqual({ lastSeenNs: 2000n });
      expect(await s.getUser('u@example.com')).toMatchObject({ lastSeenNs: 2000n, ip: '127.0.0.3', port: 3 });
    }));

    it('enrolls an unknown user on first contact when asked', withStore(async (s) => {
      expect(await s.recordSeen({ email: 'new@example.com', nowNs: 50n, ip: '10.0.0.1', port: 9, enroll: true })).toEqual({ lastSeenNs: 50n });
      expect(await s.getUser('new@example.com')).toEqual({ email: 'new@example.com', createdNs: 50n, lastSeenNs: 50n, ip: '10.0.0.1', port: 9 });
      expect(await s.recordSeen({ email: 'new@example.com', nowNs: 40n, ip: '10.0.0.2', port: 10, enroll: true })).toEqual({ lastSeenNs: 50n });
    }));

    it('answers a health check', withStore(async (s) => {
      await expect(s.check()).resolves.toBeUndefined();
    }));
  });
}
