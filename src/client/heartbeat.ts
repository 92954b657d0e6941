// `--interval`: the agent a user leaves running to stay "seen". One PATCH per
// interval over a kept-open connection; while the server cannot be reached,
// retries back off (doubling, with jitter, up to a cap) instead of hammering
// it; callers hear of every beat and, separately, of each change of state.

import type { PingClient } from './agent.ts';
import { answerFailure, diagnose, type FailureKind, type PingError } from './diagnose.ts';
import { ErrorCodes } from '../errors.ts';
import { ping, type PingResult } from './ping.ts';
import { count, percentiles, type Percentiles } from './stats.ts';

export interface Beat {
  at: Date;
  ok: boolean;
  result?: PingResult;
  error?: PingError;
  /** Milliseconds until the next beat. */
  nextInMs: number;
}

export interface StateChange {
  /** up: answered 204; down: no answer, or another one (see beat.error). */
  to: 'up' | 'down';
  /** undefined for the first beat. */
  from: 'up' | 'down' | undefined;
  /** How long the previous state lasted, ms. */
  afterMs: number;
  beat: Beat;
}

export interface HeartbeatOptions {
  intervalMs: number;
  /** The longest wait between retries while the server cannot be reached. */
  maxBackoffMs: number;
  signal: AbortSignal;
  /** For tests: 0 ≤ random() < 1. */
  random?: () => number;
  onBeat?: (beat: Beat) => void;
  onChange?: (change: StateChange) => void;
}

export interface HeartbeatSummary {
  beats: number;
  /** Beats answered 204. */
  succeeded: number;
  failed: number;
  seconds: number;
  /** Changes of state after the first beat. */
  changes: number;
  /** The longest time down, ms. */
  longestDownMs: number;
  latencyMs?: Percentiles;
  statuses: Record<string, number>;
  errors: Partial<Record<FailureKind, number>>;
}

/** Waits `ms` or until `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** The wait before retry `n` (1, 2, …) of an unreachable server: doubling from a second, capped, jittered. */
export function backoffMs(n: number, intervalMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(1000, intervalMs) * 2 ** Math.min(n - 1, 30);
  return Math.round(Math.min(maxMs, base) * (0.5 + random() / 2));
}

/** Beats until `signal` aborts; resolves with the summary. */
export async function heartbeat(client: PingClient, o: HeartbeatOptions): Promise<HeartbeatSummary> {
  const random = o.random ?? Math.random;
  const context = { target: client.target, credentials: client.credentials, timeoutMs: client.timeoutMs };
  const aborted = new Promise<undefined>((resolve) => o.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errors: Partial<Record<FailureKind, number>> = {};
  const t0 = performance.now();
  let beats = 0;
  let ok = 0;
  let changes = 0;
  let state: { key: string; to: 'up' | 'down'; since: number } | undefined;
  let longestDownMs = 0;
  let unreachable = 0;

  while (!o.signal.aborted) {
    const started = performance.now();
    const outcome = await Promise.race([
      ping(client).then(
        (result) => ({ result }),
        (err: unknown) => ({ error: diagnose(err, context) }),
      ),
      aborted,
    ]);
    if (outcome === undefined) break;
    beats++;
    const now = performance.now();
    let error: PingError | undefined;
    if ('result' in outcome) {
      latencies.push(outcome.result.timings.total);
      count(statuses, String(outcome.result.status));
      error = answerFailure(outcome.result, context);
    } else {
      error = outcome.error;
      count(errors, error.kind);
    }
    if (error === undefined) ok++;
    // Back off only while the server cannot be reached; a server that answers
    // (even with an error) is asked again at the interval, or when it says.
    unreachable = error?.code === ErrorCodes.CONNECT ? unreachable + 1 : 0;
    const retryAfterMs = ('result' in outcome ? (outcome.result.retryAfter ?? 0) : 0) * 1000;
    const nextInMs =
      unreachable > 0
        ? backoffMs(unreachable, o.intervalMs, o.maxBackoffMs, random)
        : Math.max(retryAfterMs, o.intervalMs - (now - started));
    const beat: Beat = {
      at: new Date(),
      ok: error === undefined,
      ...('result' in outcome ? { result: outcome.result } : {}),
      ...(error ? { error } : {}),
      nextInMs,
    };
    o.onBeat?.(beat);

    const to = error === undefined ? 'up' : 'down';
    const key = error === undefined ? 'up' : `down ${error.kind} ${error.message}`;
    if (state?.key !== key) {
      const afterMs = state ? now - state.since : 0;
      if (state?.to === 'down') longestDownMs = Math.max(longestDownMs, afterMs);
      if (state) changes++;
      o.onChange?.({ to, from: state?.to, afterMs, beat });
      state = { key, to, since: state?.to === to ? state.since : now };
    }
    await sleep(nextInMs, o.signal);
  }
  if (state?.to === 'down') longestDownMs = Math.max(longestDownMs, performance.now() - state.since);
  return {
    beats,
    succeeded: ok,
    failed: beats - ok,
    seconds: (performance.now() - t0) / 1000,
    changes,
    longestDownMs,
    latencyMs: percentiles(latencies),
    statuses,
    errors,
  };
}
