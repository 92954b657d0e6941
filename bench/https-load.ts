// The load generator for bench/serve.ts: PATCH requests with a client
// certificate from C concurrent loops for a bounded time, either over kept-
// alive connections (undici) or each on a new connection (full handshake).
// With several --url, the loops take turns between them in slices of
// --slice-ms, so every target is measured under the same machine conditions:
// this machine's speed drifts by tens of percent within a minute.
// Prints one {url, requests, statuses, errors, seconds, rps, p50, p99} per
// --url, as a JSON array.
// --cert and --key may be repeated (pairs, in order): loop i then speaks as
// identity i mod n, over its own kept-alive connection(s), so the load
// comes from n users at once rather than one user on C connections.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string', multiple: true }, ca: { type: 'string' }, cert: { type: 'string', multiple: true }, key: { type: 'string', multiple: true },
    mode: { type: 'string' }, concurrency: { type: 'string' }, seconds: { type: 'string' }, 'slice-ms': { type: 'string' },
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
const once = values.mode === 'new' ? newConnection : keepAlive;

const targets = urls.map((url) => ({ url, latencies: [] as number[], statuses: {} as Record<string, number>, errors: 0 }));
let total = 0;
const start = performance.now();
const end = start + seconds * 1000;
async function loop(who: number): Promise<void> {
  for (let t = performance.now(); t < end && total < maxRequests; t = performance.now()) {
    const target = targets[Math.floor((t - start) / sliceMs) % targets.length] as (typeof targets)[number];
    total++;
    try {
      const status = await once(target.url, who);
      target.statuses[status] = (target.statuses[status] ?? 0) + 1;
      target.latencies.push(performance.now() - t);
    } catch {
      target.errors++;
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i % identities.length)));
const elapsed = (performance.now() - start) / 1000;
await Promise.all(agents.map((a) => a.close()));
const results = targets.map(({ url, latencies, statuses, errors }) => {
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  const share = elapsed / targets.length; // each target had every n-th slice
  return { url, requests: latencies.length, statuses, errors, seconds: share, rps: latencies.length / share, p50: pct(0.5), p99: pct(0.99) };
});
process.stdout.write(JSON.stringify(results) + '\n');
