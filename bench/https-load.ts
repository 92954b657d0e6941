// The load generator for bench/serve.ts: PATCH requests with a client
// certificate from C concurrent loops for a bounded time, either over kept-
// alive connections or each on a new connection (full handshake).
// With several --url, the loops take turns between them in slices of
// --slice-ms, so every target is measured under the same machine conditions:
// this machine's speed drifts by tens of percent within a minute.
// Prints one {url, requests, statuses, errors, seconds, rps, p50, p99,
// warmup, generatorCpuUs} per --url, as a JSON array.
// --cert and --key may be repeated (pairs, in order): loop i then speaks as
// identity i mod n, over its own kept-alive connection(s), so the load
// comes from n users at once rather than one user on C connections.
//
// Keep-alive requests go over plain TLS sockets, one per loop and target,
// with the request's bytes made once and only the status line and
// Content-Length read back: a load generator must spend less CPU than the
// server it loads, or on a machine they share its cost hides the server's
// (undici, used before, spent more per request than `qtstatus serve` did:
// ~40 against ~33 µs, and more still when answers came in smaller bursts).
// --client undici keeps that path for comparison.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string', multiple: true }, ca: { type: 'string' }, cert: { type: 'string', multiple: true }, key: { type: 'string', multiple: true },
    mode: { type: 'string' }, client: { type: 'string' }, concurrency: { type: 'string' }, seconds: { type: 'string' }, 'warmup-seconds': { type: 'string' }, 'slice-ms': { type: 'string' },
  },
});
const urls = values.url ?? [];
const ca = readFileSync(values.ca as string);
const certs = values.cert ?? [];
const keys = values.key ?? [];
if (certs.length === 0 || certs.length !== keys.length) throw new Error('give --cert and --key in pairs');
const identities = certs.map((cert, i) => ({ ca, cert: readFileSync(cert), key: readFileSync(keys[i] as string) }));
const concurrency = Number(values.concurrency ?? 32);
const seconds = Math.min(Number(values.seconds ?? 5), 60); // bounded
const sliceMs = Number(values['slice-ms'] ?? 500);
const maxRequests = 4_000_000; // bounded in count too

/**
 * One kept-alive connection: a request at a time (no pipelining), the
 * answer delimited by its head and Content-Length. An answer of another
 * shape, or a connection closed before the answer, fails the request and
 * the connection.
 */
class RawConnection {
  private readonly socket: TLSSocket;
  private readonly request: Buffer;
  private pending: Buffer | undefined;
  private waiter: { resolve: (status: number) => void; reject: (err: Error) => void } | undefined;
  closed = false;

  constructor(url: URL, context: SecureContext) {
    this.request = Buffer.from(`PATCH ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 0\r\n\r\n`, 'latin1');
    this.socket = connect({ host: url.hostname, port: Number(url.port || 443), servername: url.hostname, secureContext: context, ALPNProtocols: ['http/1.1'] });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    const fail = (err?: Error) => {
      this.closed = true;
      this.waiter?.reject(err ?? new Error('connection closed'));
      this.waiter = undefined;
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail());
  }

  send(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.write(this.request);
    });
  }

  private read(chunk: Buffer): void {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) {
      this.pending = data;
      return;
    }
    const head = data.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const total = end + 4 + length;
    if (data.length < total) {
      this.pending = data;
      return;
    }
    const status = Number(head.slice(9, 12));
    const waiter = this.waiter;
    this.waiter = undefined;
    if (data.length > total || !waiter || !/^HTTP\/1\.1 \d{3}/.test(head)) {
      this.close();
      waiter?.reject(new Error('unexpected answer'));
      return;
    }
    // An answer that closes the connection (a refusal) still counts as its status; the next request connects again.
    if (/\r\nconnection:\s*close/i.test(head)) this.close();
    waiter.resolve(status);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

const raw = new Map<string, RawConnection>();
const rawKeepAlive = (loop: number) => async (url: string, who: number): Promise<number> => {
  const key = `${loop} ${url}`;
  let c = raw.get(key);
  if (!c || c.closed) raw.set(key, (c = new RawConnection(new URL(url), contexts[who] as SecureContext)));
  return c.send();
};

const perIdentity = Math.ceil(concurrency / identities.length);
const agents = identities.map((tls) => new Agent({ connect: tls, connections: perIdentity, pipelining: 1 }));
const keepAlive = async (url: string, who: number): Promise<number> => {
  const r = await request(url, { method: 'PATCH', dispatcher: agents[who] as Agent });
  await r.body.dump();
  return r.statusCode;
};
// One secure context per identity for every new connection, so the
// generator's own cost per handshake is the handshake, not re-reading the
// key each time.
const contexts = identities.map((tls) => createSecureContext(tls));
const newConnection = (url: string, who: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const options = { method: 'PATCH', agent: false, secureContext: contexts[who] } as https.RequestOptions; // secureContext: a tls.connect option
    const req = https.request(url, options, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
const once = (loop: number) => (values.mode === 'new' ? newConnection : values.client === 'undici' ? keepAlive : rawKeepAlive(loop));

// --warmup-seconds first: the same load, counted apart (`warmup` in the
// output: the servers' own counters include it) and left out of the
// figures, so a fresh process's first seconds (JIT compilation, connections
// and prepared statements made) are not measured against one already warm.
const warmup = Math.min(Number(values['warmup-seconds'] ?? 0), 30);
const targets = urls.map((url) => ({ url, latencies: [] as number[], statuses: {} as Record<string, number>, errors: 0, warm: { requests: 0, statuses: {} as Record<string, number>, errors: 0 } }));
let total = 0;
const start = performance.now();
const measureFrom = start + warmup * 1000;
const end = measureFrom + seconds * 1000;
async function loop(who: number, index: number): Promise<void> {
  const request = once(index);
  for (let t = performance.now(); t < end && total < maxRequests; t = performance.now()) {
    const warm = t < measureFrom;
    const slice = Math.floor((warm ? t - start : t - measureFrom) / sliceMs);
    const target = targets[slice % targets.length] as (typeof targets)[number];
    total++;
    try {
      const status = await request(target.url, who);
      if (warm) {
        target.warm.requests++;
        target.warm.statuses[status] = (target.warm.statuses[status] ?? 0) + 1;
      } else {
        target.statuses[status] = (target.statuses[status] ?? 0) + 1;
        target.latencies.push(performance.now() - t);
      }
    } catch {
      if (warm) target.warm.errors++;
      else target.errors++;
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i % identities.length, i)));
const elapsed = (performance.now() - measureFrom) / 1000;
await Promise.all(agents.map((a) => a.close()));
for (const c of raw.values()) c.close();
// The generator's own CPU per request, warm-up included (as the servers' are counted).
const cpu = process.cpuUsage();
const generatorCpuUs = (cpu.user + cpu.system) / Math.max(1, targets.reduce((n, t) => n + t.latencies.length + t.errors + t.warm.requests + t.warm.errors, 0));
const results = targets.map(({ url, latencies, statuses, errors, warm }) => {
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  const share = elapsed / targets.length; // each target had every n-th slice
  return { url, requests: latencies.length, statuses, errors, seconds: share, rps: latencies.length / share, p50: pct(0.5), p99: pct(0.99), warmup: warm, generatorCpuUs };
});
process.stdout.write(JSON.stringify(results) + '\n');
