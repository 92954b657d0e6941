// The load generator for bench/serve.ts: PATCH requests with a client
// certificate from C concurrent loops for a bounded time, either over kept-
// alive connections (undici) or each on a new connection (full handshake).
// Prints {requests, statuses, errors, seconds, rps, p50, p99} as JSON.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string' }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
    mode: { type: 'string' }, concurrency: { type: 'string' }, seconds: { type: 'string' },
  },
});
const url = values.url as string;
const tlsFiles = { ca: readFileSync(values.ca as string), cert: readFileSync(values.cert as string), key: readFileSync(values.key as string) };
const concurrency = Number(values.concurrency ?? 32);
const seconds = Math.min(Number(values.seconds ?? 5), 30); // bounded
const maxRequests = 2_000_000; // bounded in count too

const agent = new Agent({ connect: tlsFiles, connections: concurrency, pipelining: 1 });
const keepAlive = async (): Promise<number> => {
  const r = await request(url, { method: 'PATCH', dispatcher: agent });
  await r.body.dump();
  return r.statusCode;
};
// One secure context for every new connection, so the generator's own cost
// per handshake is the handshake, not re-reading the key each time.
const secureContext = createSecureContext(tlsFiles);
const newConnection = (): Promise<number> =>
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

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let errors = 0;
const start = performance.now();
const end = start + seconds * 1000;
async function loop(): Promise<void> {
  while (performance.now() < end && latencies.length + errors < maxRequests) {
    const t = performance.now();
    try {
      const status = await once();
      statuses[status] = (statuses[status] ?? 0) + 1;
      latencies.push(performance.now() - t);
    } catch {
      errors++;
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));
const elapsed = (performance.now() - start) / 1000;
await agent.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
process.stdout.write(
  JSON.stringify({ requests: latencies.length, statuses, errors, seconds: elapsed, rps: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99) }) + '\n',
);
