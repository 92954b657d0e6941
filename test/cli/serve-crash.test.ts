// A crash test of `qtstatus serve` (issue #10, "Tests"): USERS verified users
// PATCH concurrently, the server is killed with SIGKILL mid-load (by its
// PID), restarted on the same database, and every update acknowledged with
// 204 before the kill must be in the store. ROUNDS times, on one database.
// Everything is on loopback: the server listens on 127.0.0.1, user i
// connects from 127.0.1.i, and status packets go to the fixture's sink.
import { readFileSync } from 'node:fs';
import type https from 'node:https';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeClient } from '../../src/pki/make.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { keepAliveAgent, loadIdentity, patch, sleep, type Identity, type Target } from '../helpers/hostile.ts';
import { serveFixture } from '../helpers/serve-fixture.ts';

const USERS = 20;
const ROUNDS = 2;
/** Load before each kill. */
const LOAD_MS = 2_500;
/**
 * The server's clock (src/protocol/time.ts) reads Date.now() in whole
 * milliseconds at each re-anchor and adds the monotonic clock's progress, so
 * it may run up to 1 ms behind the wall clock (plus any slew between the two
 * clocks within a second); the request was sent at or after the client's
 * Date.now(). So an update's last seen is at least its send time minus this.
 */
const CLOCK_TOLERANCE_NS = 2_000_000n;

const fx = serveFixture();

const email = (i: number) => `crash${String(i).padStart(2, '0')}@qt-test.com`;
const addressOf = (i: number) => `127.0.1.${i + 1}`;

interface Acked {
  /** The client's wall clock just before it sent the request, in ns. */
  sentNs: bigint;
  ip: string;
  port: number;
  /** The how-many-th 204 on this connection (1-based). */
  onConnection: number;
}

interface UserRound {
  acked: Acked[];
  /** Requests that failed before the kill (none should). */
  failedBeforeKill: string[];
  /** Requests cut off by the kill (expected). */
  cutByKill: number;
}

interface Round {
  users: UserRound[];
  killedAtNs: bigint;
  /** Packets for each user announced by this round's server. */
  packets: Map<string, Array<{ lastSeenNs: bigint; ip: string; port: number }>>;
  stored: Map<string, { lastSeenNs: bigint | null }>;
  restart: { ok: boolean; stderr: string };
}

let db: string;
let ids: Identity[];
const rounds: Round[] = [];
let final: { status: number; exit: number | null };

function startServe(): CliProcess {
  const proc = new CliProcess(
    [
      'serve', '--host', '127.0.0.1', '--port', '0', '--db', db,
      '--cert', fx.pki.server.cert, '--key', fx.pki.server.key, '--ca', fx.pki.ca,
      '--udp-source-port', '0', '--udp-target', `127.0.0.1:${fx.sink.port}`,
      '--rate-limit', '0', '--log', 'off', '--grace', '2s',
    ],
    { timeoutMs: 60_000 },
  );
  fx.procs.push(proc);
  return proc;
}

async function portOf(proc: CliProcess): Promise<number> {
  return Number((await proc.waitFor('stderr', /serving https:\/\/127\.0\.0\.1:(\d+)/))[1]);
}

/** One user's load: PATCH after PATCH on one kept-alive connection, until the server dies. */
async function userLoad(target: Target, i: number, killed: { at?: bigint }, deadline: number): Promise<UserRound> {
  const r: UserRound = { acked: [], failedBeforeKill: [], cutByKill: 0 };
  const agent: https.Agent = keepAliveAgent(target, ids[i] as Identity, addressOf(i));
  const perConnection = new Map<string, number>();
  try {
    for (let n = 0; n < 50_000 && performance.now() < deadline; n++) {
      const sentNs = BigInt(Date.now()) * 1_000_000n;
      const res = await patch(target, { agent, identity: ids[i] as Identity, timeoutMs: 5_000 });
      if (res.status === 204) {
        // A 204 that arrives after the kill signal was still answered by the live server.
        const key = `${res.ip}:${res.port}`;
        const k = (perConnection.get(key) ?? 0) + 1;
        perConnection.set(key, k);
        r.acked.push({ sentNs, ip: res.ip, port: res.port, onConnection: k });
        await sleep(2); // a steady load, not a benchmark: the sink must keep up with the packets
        continue;
      }
      if (killed.at !== undefined) {
        r.cutByKill++;
        break; // the server is gone
      }
      r.failedBeforeKill.push(res.error ?? `HTTP ${res.status}`);
      await sleep(50);
    }
  } finally {
    agent.destroy();
  }
  return r;
}

async function crashRound(): Promise<Round> {
  const proc = startServe();
  const target: Target = { port: await portOf(proc), ca: readFileSync(fx.pki.ca) };
  const firstPacket = fx.sink.packets.length;
  const killed: { at?: bigint } = {};
  // Bounded: the loads end when the server is gone, or at the latest here.
  const deadline = performance.now() + LOAD_MS + 10_000;
  const loads = Promise.all(Array.from({ length: USERS }, (_, i) => userLoad(target, i, killed, deadline)));
  await sleep(LOAD_MS);
  killed.at = BigInt(Date.now()) * 1_000_000n;
  process.kill(proc.child.pid as number, 'SIGKILL');
  const died = await proc.done();
  expect(died.signal, `the server was not killed: ${died.stderr}`).toBe('SIGKILL');
  const users = await loads;
  await sleep(200); // datagrams already sent are delivered on loopback at once; a margin
  const packets = new Map<string, Array<{ lastSeenNs: bigint; ip: string; port: number }>>();
  for (const p of fx.sink.packets.slice(firstPacket)) {
    const list = packets.get(p.email) ?? [];
    list.push({ lastSeenNs: p.lastSeenNs, ip: p.ip, port: p.port });
    packets.set(p.email, list);
  }

  // Restart on the same database: it must open after the crash and serve.
  const again = startServe();
  let restart = { ok: true, stderr: '' };
  try {
    await portOf(again);
  } catch (e) {
    restart = { ok: false, stderr: String(e) };
  }
  const listed = await runCli(['users', 'list', '--json', '--db', db]);
  expect(listed.code, listed.stderr).toBe(0);
  const stored = new Map<string, { lastSeenNs: bigint | null }>();
  for (const u of listed.stdout.trim().split('\n').map((l) => JSON.parse(l)) as Array<{ email: string; lastSeenNs: string | null }>) { // one object a line
    stored.set(u.email, { lastSeenNs: u.lastSeenNs === null ? null : BigInt(u.lastSeenNs) });
  }
  again.kill('SIGKILL'); // the next round starts its own (a kill here is no test: nothing is in flight)
  await again.done();
  return { users, killedAtNs: killed.at, packets, stored, restart };
}

/**
 * The least last seen the store must hold for user `i` after round `r`:
 * the newest update acknowledged with 204 before the kill, by its status
 * packet when the server got to send it, else by the time its request was
 * sent; and every update the server announced.
 */
function mustHold(r: Round, i: number): { atLeast: bigint; how: string } {
  const u = r.users[i] as UserRound;
  const packets = r.packets.get(email(i)) ?? [];
  let atLeast = 0n;
  let how = 'nothing acknowledged';
  const newest = u.acked.at(-1);
  if (newest) {
    // The k-th 204 on a connection is that connection's k-th update, and so
    // its k-th packet in last-seen order (one client, one request at a time).
    const own = packets.filter((p) => p.ip === newest.ip && p.port === newest.port).sort((a, b) => (a.lastSeenNs < b.lastSeenNs ? -1 : 1));
    const packet = own[newest.onConnection - 1];
    if (packet) [atLeast, how] = [packet.lastSeenNs, `the newest 204's packet (${newest.onConnection}th on ${newest.ip}:${newest.port})`];
    else [atLeast, how] = [newest.sentNs - CLOCK_TOLERANCE_NS, `the newest 204's send time (its packet was not sent before the kill)`];
  }
  for (const p of packets) {
    if (p.lastSeenNs > atLeast) [atLeast, how] = [p.lastSeenNs, 'an announced update'];
  }
  return { atLeast, how };
}

describe(`qtstatus serve killed with SIGKILL under load (${USERS} users, ${ROUNDS} rounds)`, () => {
  beforeAll(async () => {
    db = join(fx.pki.dir, 'crash.db');
    ids = [];
    for (let i = 0; i < USERS; i++) {
      await makeClient({ dir: fx.pki.dir, identity: email(i), name: `crash${i}`, days: 30, force: true, keyType: 'ecdsa-p256' });
      ids.push(loadIdentity({ cert: join(fx.pki.dir, `crash${i}.crt`), key: join(fx.pki.dir, `crash${i}.key`) }));
    }
    const add = await runCli(['users', 'add', ...Array.from({ length: USERS }, (_, i) => email(i)), '--db', db]);
    expect(add.code, add.stderr).toBe(0);
    for (let r = 0; r < ROUNDS; r++) rounds.push(await crashRound());
    // And it still serves afterwards.
    const proc = startServe();
    const status = (await patch({ port: await portOf(proc), ca: readFileSync(fx.pki.ca) }, { identity: ids[0] as Identity, timeoutMs: 5_000 })).status;
    proc.kill('SIGTERM');
    final = { status, exit: (await proc.done()).code };
    const lines = rounds.map((r, n) => {
      const how = Array.from({ length: USERS }, (_, i) => mustHold(r, i).how.replace(/ \(.*\)$/, ''));
      const count = (what: string) => how.filter((h) => h.startsWith(what)).length;
      const acked = r.users.reduce((a, u) => a + u.acked.length, 0);
      const cut = r.users.reduce((a, u) => a + u.cutByKill, 0);
      const announced = [...r.packets.values()].reduce((a, l) => a + l.length, 0);
      return `  round ${n + 1}: ${acked} × 204 before the kill, ${announced} status packets, ${cut} requests cut off by it; checked by the newest 204's packet for ${count("the newest 204's packet")} users, by its send time for ${count("the newest 204's send time")}, by a newer announced update for ${count('an announced')}`;
    });
    process.stderr.write(`serve crash:\n${lines.join('\n')}\n`);
  }, 60_000);

  it('every user had updates acknowledged in every round, and none failed before the kill', () => {
    const summary = rounds.map((r, n) => ({
      round: n + 1,
      acked: r.users.map((u) => u.acked.length),
      failedBeforeKill: r.users.flatMap((u) => u.failedBeforeKill),
    }));
    for (const s of summary) {
      expect(s.failedBeforeKill, JSON.stringify(summary)).toEqual([]);
      expect(Math.min(...s.acked), JSON.stringify(summary)).toBeGreaterThan(0);
    }
  });

  it('the server restarts on the database after each crash', () => {
    expect(rounds.map((r) => r.restart)).toEqual(rounds.map(() => ({ ok: true, stderr: '' })));
  });

  it.each(Array.from({ length: ROUNDS }, (_, r) => r + 1))('round %i: every update acknowledged before the kill is in the store', (n) => {
    const r = rounds[n - 1] as Round;
    const missing: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const need = mustHold(r, i);
      const have = r.stored.get(email(i))?.lastSeenNs ?? null;
      if (have === null ? need.atLeast > 0n : have < need.atLeast) {
        missing.push(`${email(i)}: stored ${have ?? 'never'} < ${need.atLeast} (${need.how}; ${r.users[i]?.acked.length} × 204)`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('serves again after the crashes, and stops cleanly', () => {
    expect(final).toEqual({ status: 204, exit: 0 });
  });
});
