import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decode,
  encode,
  encodingLength,
  MIN_LENGTH,
  PacketFieldError,
  RejectReasons,
  type StatusPacket,
} from '../../src/protocol/packet.ts';
import vectors from './vectors.json' with { type: 'json' };

const fromHex = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('test vectors (built by Python struct, test/protocol/make-vectors.py)', () => {
  for (const v of vectors.vectors) {
    it(`${v.name}`, () => {
      const result = decode(fromHex(v.hex));
      if (v.expect.ok) {
        const expected = v.expect as { email: string; lastSeenNs: string; ip: string; port: number };
        expect(result).toEqual({
          ok: true,
          packet: {
            email: expected.email,
            lastSeenNs: BigInt(expected.lastSeenNs),
            ip: expected.ip,
            port: expected.port,
          },
        });
        if (!result.ok) return;
        expect(toHex(encode(result.packet))).toBe(v.hex);
        expect(encodingLength(result.packet)).toBe(v.hex.length / 2);
      } else {
        const reason = (v.expect as { reason: keyof typeof RejectReasons }).reason;
        expect(result).toEqual({ ok: false, reason, message: RejectReasons[reason] });
      }
    });
  }

  it('cover every reject reason', () => {
    const covered = new Set(vectors.vectors.map((v) => (v.expect as { reason?: string }).reason));
    for (const reason of Object.keys(RejectReasons)) expect(covered).toContain(reason);
  });
});

// The email rule (test/protocol/vectors.json `emails`) holds for the packet
// both ways: decode refuses with invalid_email, encode refuses to write it.
describe('email vectors in a packet', () => {
  const wire = (email: string) => {
    const e = Buffer.from(email, 'utf8');
    const out = Buffer.alloc(12 + e.length + 9);
    out[0] = e.length;
    e.copy(out, 1);
    out.writeBigUInt64BE(7n, 1 + e.length);
    out[9 + e.length] = 9;
    out.write('127.0.0.1', 10 + e.length, 'latin1');
    out.writeUInt16BE(80, 19 + e.length);
    return Uint8Array.from(out);
  };
  for (const v of vectors.emails) {
    if (Buffer.byteLength(v.email) > 254) continue;
    it(`${v.ok ? 'carries' : 'refuses'} ${JSON.stringify(v.email)}`, () => {
      const packet = { email: v.email, lastSeenNs: 7n, ip: '127.0.0.1', port: 80 };
      if (v.ok) {
        expect(decode(wire(v.email))).toEqual({ ok: true, packet });
        expect(toHex(encode(packet))).toBe(toHex(wire(v.email)));
      } else {
        expect(decode(wire(v.email))).toEqual({ ok: false, reason: 'invalid_email', message: RejectReasons.invalid_email });
        expect(() => encode(packet)).toThrow(new PacketFieldError('email', RejectReasons.invalid_email));
      }
    });
  }
});

describe('decode', () => {
  it('reads a packet inside a larger buffer at an offset', () => {
    const packet = { email: 'a@example.com', lastSeenNs: 5n, ip: '::1', port: 9 };
    const big = new Uint8Array(100);
    const view = encode(packet, big, 37);
    expect(view.byteOffset).toBe(37);
    expect(decode(view)).toEqual({ ok: true, packet });
  });

  it('takes Node Buffers from the pool', () => {
    const bytes = Buffer.from(encode({ email: 'a@example.com', lastSeenNs: 1n, ip: '1.2.3.4', port: 2 }));
    expect(decode(bytes).ok).toBe(true);
  });
});

describe('encode', () => {
  const good: StatusPacket = { email: 'a@example.com', lastSeenNs: 1n, ip: '127.0.0.1', port: 1 };
  const cases: Array<[string, Partial<StatusPacket>, keyof StatusPacket]> = [
    ['an invalid email', { email: 'nope' }, 'email'],
    ['a 255-byte email', { email: 'x'.repeat(64) + '@' + 'a'.repeat(63) + '.' + 'b'.repeat(63) + '.' + 'c'.repeat(58) + '.com' }, 'email'],
    ['a host name as IP', { ip: 'example.com' }, 'ip'],
    ['a negative time', { lastSeenNs: -1n }, 'lastSeenNs'],
    ['a time past 2^64', { lastSeenNs: 1n << 64n }, 'lastSeenNs'],
    ['a number as time', { lastSeenNs: 5 as unknown as bigint }, 'lastSeenNs'],
    ['port 65536', { port: 65536 }, 'port'],
    ['a fractional port', { port: 1.5 }, 'port'],
  ];
  for (const [what, patch, field] of cases) {
    it(`refuses ${what}`, () => {
      const bad = { ...good, ...patch };
      expect(() => encode(bad)).toThrow(PacketFieldError);
      expect(() => encodingLength(bad)).toThrow(PacketFieldError);
      try {
        encode(bad);
      } catch (err) {
        expect((err as PacketFieldError).field).toBe(field);
      }
    });
  }

  it('refuses a target buffer that is too small', () => {
    expect(() => encode(good, new Uint8Array(10))).toThrow(RangeError);
  });
});

// Generators for valid fields: dot-atom local parts, dotted domains, any IP.
// No `xn--` label: a random one is hardly ever a valid A-label (email.ts).
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/).filter((l) => !l.startsWith('xn--'));
const email = fc
  .tuple(
    fc.stringMatching(/^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[a-zA-Z0-9_+-]{1,8}){0,2}$/),
    fc.array(label, { minLength: 1, maxLength: 3 }),
    fc.stringMatching(/^[a-z]{2,10}$/),
  )
  .map(([local, labels, tld]) => `${local}@${labels.join('.')}.${tld}`);
const ip = fc.oneof(fc.ipV4(), fc.ipV6());
const packet = fc.record({
  email,
  lastSeenNs: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  ip,
  port: fc.integer({ min: 0, max: 65535 }),
});

describe('properties', () => {
  it('decode(encode(x)) equals x', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const bytes = encode(p);
        expect(bytes.length).toBe(encodingLength(p));
        expect(decode(bytes)).toEqual({ ok: true, packet: p });
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on 100k random datagrams', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        const r = decode(bytes);
        if (!r.ok) expect(r.message).toBe(RejectReasons[r.reason]);
      }),
      { numRuns: 100_000 },
    );
  });

  it('never throws on 100k mutations of valid packets, and rejects any truncation or extension', () => {
    const mutated = fc
      .tuple(packet, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.integer({ min: -3, max: 3 }))
      .map(([p, flips, resize]) => {
        const bytes = encode(p);
        const out = new Uint8Array(Math.max(0, bytes.length + resize));
        out.set(bytes.subarray(0, out.length));
        for (const [i, v] of flips) if (out.length > 0) out[i % out.length] = v;
        return { out, resize, flips: flips.length };
      });
    fc.assert(
      fc.property(mutated, ({ out, resize, flips }) => {
        const r = decode(out);
        if (flips === 0 && resize !== 0) expect(r.ok).toBe(false);
        if (!r.ok) return;
        // Whatever decodes re-encodes to the same bytes: no lossy reads.
        expect(Buffer.from(encode(r.packet)).equals(Buffer.from(out))).toBe(true);
      }),
      { numRuns: 100_000 },
    );
  });

  it('rejects everything under the minimum length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MIN_LENGTH - 1 }), (bytes) => {
        expect(decode(bytes)).toMatchObject({ ok: false, reason: 'too_short' });
      }),
    );
  });
});
