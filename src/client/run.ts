// `--count N --concurrency C`: N pings over at most C connections at once,
// reused (or, with newConnection, one full handshake each), summed up.

import type { PingClient } from './agent.ts';
import { answerFailure, diagnose, type FailureKind, type PingError } from './diagnose.ts';
import { ping } from './ping.ts';
import { count, percentiles, type Percentiles } from './stats.ts';

export interface RunOptions {
  count: number;
  concurrency: number;
  /** After each request: how many are done and how many of those failed. */
  onProgress?: (done: number, failed: number) => void;
  /** Stops starting new requests; those in flight finish. */
  signal?: AbortSignal;
}

export interface RunSummary {
  count: number;
  completed: number;
  concurrency: number;
  newConnection: boolean;
  seconds: number;
  requestsPerSecond: number;
  /** Requests answered 204. */
  succeeded: number;
  failed: number;
  /** Of every answered request, in ms. */
  latencyMs?: Percentiles;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** Requests without an answer, by what went wrong. */
  errors: Partial<Record<FailureKind, number>>;
  connections: { opened: number; resumed: number; handshakeMs?: Percentiles; protocol?: string; cipher?: string };
  /** The most frequent failure (answers other than 204 included) and how often it came, for the message and exit code. */
  mainFailure?: { error: PingError; count: number };
}

export async function run(client: PingClient, o: RunOptions): Promise<RunSummary> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errors: Partial<Record<FailureKind, number>> = {};
  const failures = new Map<FailureKind, { n: number; example: PingError }>();
  let launched = 0;
  let completed = 0;
  let ok = 0;
  const fail = (e: PingError) => {
    const f = failures.get(e.kind);
    if (f) f.n++;
    else failures.set(e.kind, { n: 1, example: e });
  };
  const context = { target: client.target, credentials: client.credentials, timeoutMs: client.timeoutMs };

  const worker = async () => {
    while (launched < o.count && o.signal?.aborted !== true) {
      launched++;
      try {
        const r = await ping(client);
        latencies.push(r.timings.total);
        count(statuses, String(r.status));
        const failure = answerFailure(r, context);
        if (failure) {
          // An answer other than 204 is a failure like a broken connection (issue #13).
          count(errors, failure.kind);
          fail(failure);
        } else ok++;
      } catch (err) {
        const e = diagnose(err, context);
        count(errors, e.kind);
        fail(e);
      }
      completed++;
      o.onProgress?.(completed, completed - ok);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, o.count)) }, worker));
  const seconds = (performance.now() - t0) / 1000;

  const main = [...failures.values()].sort((a, b) => b.n - a.n)[0];
  const s = client.stats;
  return {
    count: o.count,
    completed,
    concurrency: o.concurrency,
    newConnection: client.newConnection,
    seconds,
    requestsPerSecond: seconds > 0 ? completed / seconds : 0,
    succeeded: ok,
    failed: completed - ok,
    latencyMs: percentiles(latencies),
    statuses,
    errors,
    connections: { opened: s.opened, resumed: s.resumed, handshakeMs: percentiles(s.handshakeMs), protocol: s.first?.protocol, cipher: s.first?.cipher },
    ...(main ? { mainFailure: { error: main.example, count: main.n } } : {}),
  };
}
