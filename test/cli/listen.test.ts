import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encode, type StatusPacket } from '../../src/protocol/packet.ts';
import { BIN, CliProcess, runCli } from '../helpers/cli.ts';
import { createNetns, netnsUnavailable } from '../helpers/netns.ts';

const packet: StatusPacket = {
  email: 'valid_user@qt-test.com',
  lastSeenNs: 1734700000123456789n,
  ip: '172.18.0.1',
  port: 62453,
};
const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
});

/** Starts a listener on a free loopback port and waits until it is bound. */
async function listen(...args: string[]): Promise<{ proc: CliProcess; port: number }> {
  const proc = new CliProcess(['listen', '--host', '127.0.0.1', '--port', '0', ...args]);
  running.push(proc);
  const m = await proc.waitFor('stderr', /listening on 127\.0\.0\.1:(\d+)/);
  return { proc, port: Number(m[1]) };
}

async function send(port: number, datagrams: Uint8Array[], host = '127.0.0.1'): Promise<void> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  for (const d of datagrams) {
    await new Promise<void>((resolve, reject) => socket.send(d, port, host, (e) => (e ? reject(e) : resolve())));
  }
  socket.close();
}

describe('qtstatus listen', () => {
  it('prints a valid packet like the old listener and a rejected one with its reason', async () => {
    const { proc, port } = await listen('--count', '2');
    const valid = encode(packet);
    await send(port, [valid, valid.subarray(0, 20)]);
    const r = await proc.done();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Source Packet: 127\.0\.0\.1:\d+$/m);
    expect(r.stdout).toContain('User Email   : valid_user@qt-test.com');
    expect(r.stdout).toContain('Last Seen    : 2024-12-20 13:06:40.123456789 UTC (1734700000123456789 ns)');
    expect(r.stdout).toContain('Client IP    : 172.18.0.1');
    expect(r.stdout).toContain('Client Port  : 62453');
    expect(r.stdout).toMatch(/^rejected 127\.0\.0\.1:\d+ 20 bytes: truncated: /m);
    expect(r.stderr).toMatch(/received 2, decoded 1, rejected 1 \(truncated 1\), dropped 0/);
    expect(r.stdout).not.toMatch(/\x1b\[/); // NO_COLOR
  });

  it('--json prints one object per packet and a JSON summary on stderr', async () => {
    const { proc, port } = await listen('--json', '--count', '3');
    await send(port, [encode(packet), encode({ ...packet, ip: '::1', port: 0 }), Uint8Array.of(1, 2, 3)]);
    const r = await proc.done();
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      type: 'status',
      source: { address: '127.0.0.1' },
      size: 44,
      email: 'valid_user@qt-test.com',
      lastSeenNs: '1734700000123456789',
      lastSeen: '2024-12-20T13:06:40.123456789Z',
      ip: '172.18.0.1',
      port: 62453,
    });
    expect(lines[1]).toMatchObject({ type: 'status', ip: '::1', port: 0 });
    expect(lines[2]).toMatchObject({ type: 'rejected', size: 3, reason: 'too_short', hex: '010203' });
    const summary = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '');
    expect(summary).toMatchObject({ type: 'summary', received: 3, decoded: 2, rejected: 1, rejectedByReason: { too_short: 1 }, dropped: 0 });
  });

  it('shows control characters from the network escaped, never raw', async () => {
    // Made by hand: the encoder (and, with issue #10's email rule, the
    // decoder) refuses such an address; whichever way the listener takes
    // it, nothing reaches the terminal raw.
    const { proc, port } = await listen('--count', '1', '--verbose');
    const email = Buffer.from('"\x1b[2J\x07"@example.com', 'latin1');
    const ip = Buffer.from(packet.ip, 'latin1');
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(packet.lastSeenNs);
    await send(port, [Buffer.concat([Buffer.from([email.length]), email, time, Buffer.from([ip.length]), ip, Buffer.from([packet.port >> 8, packet.port & 0xff])])]);
    const r = await proc.done();
    expect(r.stdout).toMatch(/User Email {3}: "\\x1b\[2J\\x07"@example\.com|^rejected .* bytes: invalid_email: /m);
    expect(r.stdout).not.toContain('\x1b');
    expect(r.stdout).not.toContain('\x07');
  });

  it('--verbose adds a hex dump of rejected packets', async () => {
    const { proc, port } = await listen('--verbose', '--count', '1');
    await send(port, [Uint8Array.from([0x41, 0x00, 0x1b, 0xff])]);
    const r = await proc.done();
    expect(r.stdout).toContain('rejected');
    expect(r.stdout).toMatch(/^ {4}0000 {2}41 00 1b ff {38}A\.\.\.$/m);
  });

  it('never crashes: 3000 random and mutated datagrams, then every one is counted', async () => {
    const { proc, port } = await listen('--json', '--count', '3001');
    const valid = encode(packet);
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 0) / 0x7fffffff;
    const junk: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 2 === 0) {
        junk.push(Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      } else {
        const m = Uint8Array.from(valid);
        m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
        junk.push(m);
      }
    }
    // Paced so the kernel's receive buffer never overflows during the test.
    for (let i = 0; i < junk.length; i += 200) {
      await send(port, junk.slice(i, i + 200));
      await new Promise((r) => setTimeout(r, 5));
    }
    await send(port, [valid]);
    const r = await proc.done();
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3001);
    expect(lines.at(-1)).toMatchObject({ type: 'status', email: packet.email });
    const summary = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '');
    expect(summary.received).toBe(3001);
    expect(summary.decoded + summary.rejected).toBe(3001);
  });

  it('listens on IPv6 loopback', async () => {
    const proc = new CliProcess(['listen', '--host', '::1', '--port', '0', '--count', '1', '--json']);
    running.push(proc);
    const m = await proc.waitFor('stderr', /listening on \[::1\]:(\d+)/);
    await send(Number(m[1]), [encode(packet)], '::1');
    const r = await proc.done();
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'status', source: { address: '::1' } });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`exits 0 with a summary on ${signal}`, async () => {
      const { proc, port } = await listen();
      await send(port, [encode(packet)]);
      await proc.waitFor('stdout', /Client Port/);
      proc.kill(signal);
      const r = await proc.done();
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/received 1, decoded 1, rejected 0, dropped 0; [\d.]+ packets\/s/);
    });
  }

  it('--timeout ends a quiet listener with exit 0', async () => {
    const r = await runCli(['listen', '--host', '127.0.0.1', '--port', '0', '--timeout', '300ms']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/received 0, decoded 0, rejected 0, dropped 0/);
  });

  it('--quiet prints nothing on stderr', async () => {
    const r = await runCli(['listen', '--host', '127.0.0.1', '--port', '0', '--timeout', '200ms', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('shares its port with another listener (address reuse)', async () => {
    const first = await listen('--count', '1');
    const second = new CliProcess(['listen', '--host', '127.0.0.1', '--port', String(first.port), '--timeout', '300ms']);
    running.push(second);
    const r = await second.done();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`listening on 127.0.0.1:${first.port}`);
  });

  // Issue #10: the old Python listener binds without SO_REUSEADDR, so it and
  // qtstatus cannot share a port, whichever starts first.
  it('cannot share a port with a program that binds without address reuse, in either order', async () => {
    const plain = dgram.createSocket('udp4'); // socket() + bind(), as the old listener
    await new Promise<void>((resolve) => plain.bind(0, '127.0.0.1', resolve));
    const port = plain.address().port;
    try {
      const r = await runCli(['listen', '--host', '127.0.0.1', '--port', String(port), '--timeout', '1s']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `qtstatus: cannot listen on UDP 127.0.0.1:${port}: EADDRINUSE: address already in use (another program has UDP port ${port} without address reuse ` +
          `(the old Python listener does; \`ss -ulpn 'sport = :${port}'\` shows which): stop it, or listen on another --port; several \`qtstatus listen\` share a port)\n`,
      );
    } finally {
      plain.close();
    }
    const first = await listen('--timeout', '2s');
    const late = dgram.createSocket('udp4');
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      late.once('error', resolve);
      late.bind(first.port, '127.0.0.1', () => resolve(undefined));
    });
    late.close();
    expect(error?.code).toBe('EADDRINUSE');
  });

  it('a port it cannot bind exits 1 and says why', async () => {
    const r = await runCli(['listen', '--host', '192.0.2.1', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^qtstatus: cannot listen on UDP 192\.0\.2\.1:0: EADDRNOTAVAIL: address not available \(use an address of this machine/);
  });

  it.each([
    [['--port', '70000'], /"70000" is not a port/],
    [['--timeout', 'soon'], /"soon" is not a duration/],
    [['--timeout', '5000h'], /"5000h" is too long \(at most 596h/],
    [['--count', '0'], /"0" is not a whole number of 1 or more/],
    [['--group', 'nope'], /"nope" is not an IPv4 or IPv6 address/],
    [['--bogus'], /unknown option '--bogus'/],
    [['--interface', '127.0.0.1'], /--interface needs --group \(name the multicast group/],
  ])('usage error %j exits 2', async (args, message) => {
    const r = await runCli(['listen', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^qtstatus: /);
  });
});

// Issue #10: with a stdout pipe nobody reads, --timeout or SIGINT printed the
// summary and then waited for the reader forever.
describe('listen with a stdout pipe nobody reads', () => {
  for (const how of ['--timeout', 'SIGINT'] as const) {
    it(`stops on ${how} within a few seconds and counts the lines it could not write`, async () => {
      const child = spawn(process.execPath, [BIN, 'listen', '--host', '127.0.0.1', '--port', '0', ...(how === '--timeout' ? ['--timeout', '2s'] : [])], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      });
      child.stdout.pause(); // never read while it runs: the pipe fills
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      // Read what reached the pipe once it has exited (in the 'exit' event
      // itself: Node discards unread child output right after it).
      let out = '';
      const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
        child.on('exit', (code) => {
          child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
          resolve({ code, at: performance.now() });
        }),
      );
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        while (!/listening on 127\.0\.0\.1:\d+/.test(stderr)) await new Promise((r) => setTimeout(r, 20));
        const boundAt = performance.now();
        const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]);
        const valid = encode(packet);
        const sent = 4000; // ~250 bytes printed each: 1 MB, far more than a pipe holds
        for (let i = 0; i < sent; i += 100) {
          await send(port, Array(100).fill(valid));
          await new Promise((r) => setTimeout(r, 2));
        }
        await new Promise((r) => setTimeout(r, 200));
        if (how === 'SIGINT') child.kill('SIGINT');
        const stopAt = how === 'SIGINT' ? performance.now() : undefined;
        const { code, at } = await exited;
        expect(code).toBe(0);
        const m = /received (\d+), decoded (\d+), rejected 0, dropped (\d+); /.exec(stderr);
        expect(m, stderr).not.toBeNull();
        const [received, dropped] = [Number(m?.[1]), Number(m?.[3])];
        expect(received).toBe(sent);
        expect(dropped).toBeGreaterThan(0);
        expect(at - (stopAt ?? boundAt + 2000)).toBeLessThan(4000);
        // What reached the pipe and what was counted as dropped cover every packet.
        if (!child.stdout.readableEnded) await new Promise((r) => child.stdout.on('end', r));
        const written = out.split('Client Port  : 62453\n').length - 1;
        expect(written).toBeGreaterThan(0);
        expect(written + dropped).toBeGreaterThanOrEqual(received);
      } finally {
        clearTimeout(killer);
        child.kill('SIGKILL');
      }
    });
  }
});

describe.skipIf(netnsUnavailable !== undefined)(`listen in a network namespace${netnsUnavailable ? ` (skipped: ${netnsUnavailable})` : ''}`, () => {
  const sender = (target: string, port: number, hex: string, opts = '') => [
    '--input-type=module',
    '-e',
    `import dgram from 'node:dgram';
     const s = dgram.createSocket('udp4');
     s.bind(0, '10.77.0.1', () => { s.setBroadcast(true); ${opts}
       s.send(Buffer.from('${hex}', 'hex'), ${port}, '${target}', (e) => { if (e) { console.error(e.message); process.exitCode = 1; } s.close(); }); });`,
  ];

  it('two listeners on one port both receive a broadcast', async () => {
    const ns = createNetns();
    try {
      const procs = [1, 2].map(() => new CliProcess(['listen', '--port', '6667', '--count', '1', '--json'], { netns: ns.name }));
      running.push(...procs);
      for (const p of procs) await p.waitFor('stderr', /listening on 0\.0\.0\.0:6667/);
      const hex = Buffer.from(encode(packet)).toString('hex');
      const sent = await ns.exec(process.execPath, sender('255.255.255.255', 6667, hex));
      expect(sent.stderr).toBe('');
      for (const p of procs) {
        const r = await p.done();
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ type: 'status', email: packet.email, source: { address: '10.77.0.1' } });
      }
    } finally {
      ns.remove();
    }
  });

  it('--group joins a multicast group on --interface', async () => {
    const ns = createNetns();
    try {
      const proc = new CliProcess(['listen', '--port', '6667', '--group', '239.77.0.1', '--interface', '10.77.0.1', '--count', '1', '--json'], { netns: ns.name });
      running.push(proc);
      await proc.waitFor('stderr', /in group 239\.77\.0\.1/);
      const hex = Buffer.from(encode(packet)).toString('hex');
      const sent = await ns.exec(process.execPath, sender('239.77.0.1', 6667, hex, "s.setMulticastInterface('10.77.0.1'); s.setMulticastLoopback(true);"));
      expect(sent.stderr).toBe('');
      const r = await proc.done();
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ type: 'status', email: packet.email });
    } finally {
      ns.remove();
    }
  });
});
