// The load generator for bench/serve.ts: PATCH requests with a client
// certificate from C concurrent loops for a bounded time, either over kept-
// alive connections (undici) or each on a new connection (full handshake).
// With several --url, the loops take turns between them in slices of
// --slice-ms, so every target is measured under the same machine conditions:
// this machine's speed drifts by tens of percent within a minute.
// Prints one {url, requests, statuses, errors, seconds, rps, p50, p99} per
// --url, as a JSON array.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string', multiple: true }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
    mode: { type: 'string' }, concurrency: { type: 'string' }, seconds: { type: 'string' }, 'slice-ms': { type: 'string' },
  },
});
const urls = values.url ?? [];
const tlsFiles = { ca: readFileSync(values.ca as string), cert: readFileSync(values.cert as string), key: readFileSync(values.key as string) };
const concurrency = Number(values.concurrency ?? 32);
const seconds = Math.min(Number(values.seconds ?? 5), 60); // bounded
const sliceMs = Number(values['slice-ms'] ?? 500);
const maxRequests = 4_000_000; // bounded in count too

const agent = new Agent({ connect: tlsFiles, connections: concurrency, pipelining: 1 });
const keepAlive = async (url: string): Promise<number> => {
  const r = await request(url, { method: 'PATCH', dispatcher: agent });
  await r.body.dump();
  return r.statusCode;
};
// One secure context for every new connection, so the generator's own cost
// per handshake is the handshake, not re-reading the key each time.
const secureContext = createSecureContext(tlsFiles);
const newConnection = (url: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const options = { method: 'PATCH', agent: false, secureContext } as https.RequestOptions; // secureContext: a tls.connect option
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
async function loop(): Promise<void> {
  for (let t = performance.now(); t < end && total < maxRequests; t = performance.now()) {
    const target = targets[Math.floor((t - start) / sliceMs) % targets.length] as (typeof targets)[number];
    total++;
    try {
      const status = await once(target.url);
      target.statuses[status] = (target.statuses[status] ?? 0) + 1;
      target.latencies.push(performance.now() - t);
    } catch {
      target.errors++;
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));
const elapsed = (performance.now() - start) / 1000;
await agent.close();
const results = targets.map(({ url, latencies, statuses, errors }) => {
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  const share = elapsed / targets.length; // each target had every n-th slice
  return { url, requests: latencies.length, statuses, errors, seconds: share, rps: latencies.length / share, p50: pct(0.5), p99: pct(0.99) };
});
process.stdout.write(JSON.stringify(results) + '\n');
