// How `qtstatus ping` shows its results: one line per ping or change of state
// for people, JSON for programs (docs/cli.md).

import type { ChalkInstance } from 'chalk';
import type { Command } from 'commander';
import type { Beat, HeartbeatSummary, StateChange } from '../client/heartbeat.ts';
import type { PingError } from '../client/diagnose.ts';
import type { PingResult, PingTimings } from '../client/ping.ts';
import type { RunSummary } from '../client/run.ts';
import type { Percentiles } from '../client/stats.ts';
import { isQtError, QtError } from '../errors.ts';
import { safeJson } from './escape.ts';
import { hintFor } from './hints.ts';
import { exitCodeFor, formatError } from './report.ts';

const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ms`;
const round = (v: number) => Math.round(v * 1000) / 1000;

/** "1 h 2 min", "3 min 4 s", "5.6 s". */
export function duration(milliseconds: number): string {
  const s = milliseconds / 1000;
  if (s < 60) return `${+s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function roundAll<T extends object>(o: T | undefined): T | undefined {
  return o === undefined ? undefined : (Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])) as T);
}

export function timingsText(t: PingTimings): string {
  const parts = t.connect === undefined ? ['reused connection'] : [`connect ${ms(t.connect)}`, `TLS ${ms(t.tls ?? 0)}`];
  return [...parts, `first byte ${ms(t.firstByte)}`, `total ${ms(t.total)}`].join(', ');
}

export interface Who {
  url: string;
  /** Undefined without a client certificate. */
  identity?: string;
}

/** "as alice@example.org", or "without a client certificate". */
export function asWho(who: Who, c?: ChalkInstance): string {
  if (who.identity === undefined) return 'without a client certificate';
  return `as ${c ? c.bold(who.identity) : who.identity}`;
}

/** The one line of a successful ping. */
export function pingLine(r: PingResult, who: Who, c: ChalkInstance): string {
  const conn = r.connection;
  const at = conn.remoteAddress ? ` (${conn.remoteAddress})` : '';
  return (
    `${c.green.bold(`${r.status} ${r.statusText}`)} ${asWho(who, c)} to ${who.url}${at} ` +
    `${conn.protocol ?? '?'} ${conn.cipher ?? '?'}; ${timingsText(r.timings)}\n`
  );
}

/**
 * A failure for JSON: what happened (with its cause) and the hint apart.
 * `command` (the ping command): the hint names its settings as the user gave them.
 */
export function errorJson(e: unknown, command?: Command): { kind: string; exitCode: number; message: string; hint?: string } {
  const kind = (e as Partial<PingError>).kind ?? 'local';
  const withoutHint = isQtError(e) ? new QtError(e.code, e.message, { cause: e.cause }) : e;
  const hint = isQtError(e) ? hintFor(e, command) : undefined;
  return { kind, exitCode: exitCodeFor(e), message: formatError(withoutHint).replace(/^qtstatus: /, ''), ...(hint ? { hint } : {}) };
}

// The JSON carries the server's words (message, and the error's text):
// safeJson writes controls and bidi characters as \u escapes (issue #10).

/** One JSON document for a single ping; `error` when it failed. */
export function pingJson(who: Who, r: PingResult | undefined, error: unknown, command?: Command): string {
  const doc = {
    ok: r?.ok === true && error === undefined,
    url: who.url,
    ...(who.identity ? { identity: who.identity } : {}),
    ...(r
      ? {
          status: r.status,
          statusText: r.statusText,
          ...(r.message === undefined ? {} : { message: r.message }),
          server: { address: r.connection.remoteAddress, port: r.connection.remotePort },
          tls: { protocol: r.connection.protocol, cipher: r.connection.cipher, sessionResumed: r.connection.sessionResumed },
          connectionReused: r.connection.reused,
          timingsMs: roundAll(r.timings),
        }
      : {}),
    ...(error === undefined ? {} : { error: errorJson(error, command) }),
  };
  return safeJson(doc) + '\n';
}

const pct = (p: Percentiles) => `p50 ${ms(p.p50)}, p90 ${ms(p.p90)}, p99 ${ms(p.p99)} (min ${ms(p.min)}, max ${ms(p.max)})`;
const counts = (o: Record<string, number | undefined>) =>
  Object.entries(o)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ') || 'none';

export function runText(s: RunSummary, who: Who, c: ChalkInstance): string {
  const conns = s.connections;
  const lines = [
    `${c.bold(s.completed === s.count ? `${s.count} requests` : `${s.completed} of ${s.count} requests (stopped)`)} to ${who.url} ${asWho(who)}, ${s.concurrency} at a time${s.newConnection ? ', a new connection each' : ''}: ` +
      `${s.seconds.toFixed(2)} s, ${c.bold(`${s.requestsPerSecond.toFixed(1)} requests/s`)}`,
    `latency      ${s.latencyMs ? pct(s.latencyMs) : 'no answers'}`,
    `statuses     ${counts(s.statuses)}`,
    `failures     ${s.failed > 0 ? c.red(`${s.failed} of ${s.completed}: ${counts(s.errors)}`) : 'none'}`,
    `connections  ${conns.opened}${conns.protocol ? ` (${conns.protocol} ${conns.cipher ?? ''})` : ''}, ${conns.resumed} resumed` +
      `${conns.handshakeMs ? `; handshake ${pct(conns.handshakeMs)}` : ''}`,
  ];
  return lines.join('\n') + '\n';
}

export function runJson(s: RunSummary, who: Who, command?: Command): string {
  const { mainFailure, latencyMs, connections, ...rest } = s;
  return (
    safeJson({
      ok: mainFailure === undefined && s.completed === s.count,
      url: who.url,
      ...(who.identity ? { identity: who.identity } : {}),
      ...rest,
      seconds: round(s.seconds),
      requestsPerSecond: round(s.requestsPerSecond),
      latencyMs: roundAll(latencyMs),
      connections: { ...connections, handshakeMs: roundAll(connections.handshakeMs) },
      ...(mainFailure ? { error: errorJson(mainFailure.error, command) } : {}),
    }) + '\n'
  );
}

function beatAnswer(b: Beat): string {
  const r = b.result;
  if (!r) return '';
  return `${r.status} ${r.statusText} in ${ms(r.timings.total)} (${r.connection.protocol ?? '?'}, ${r.connection.reused ? 'reused connection' : 'new connection'})`;
}

/** A change of state in heartbeat mode: up, down with the reason, up again. */
export function changeLine(ch: StateChange, c: ChalkInstance, command?: Command): string {
  const b = ch.beat;
  const time = c.dim(b.at.toISOString());
  if (ch.to === 'up') {
    const again = ch.from === 'down' ? ` again after ${duration(ch.afterMs)} down` : '';
    return `${time} ${c.green.bold('up')}${again}: ${beatAnswer(b)}\n`;
  }
  const why = formatError(b.error, command).replace(/^qtstatus: /, '');
  return `${time} ${c.red.bold('down')}: ${why}; next try in ${duration(b.nextInMs)}\n`;
}

export function beatJson(b: Beat, command?: Command): string {
  const r = b.result;
  return (
    safeJson({
      type: 'beat',
      time: b.at.toISOString(),
      ok: b.ok,
      ...(r ? { status: r.status, ms: round(r.timings.total), reused: r.connection.reused } : {}),
      ...(b.error ? { error: errorJson(b.error, command) } : {}),
      nextInMs: Math.round(b.nextInMs),
    }) + '\n'
  );
}

export function heartbeatSummary(s: HeartbeatSummary, json: boolean): string {
  if (json) {
    return JSON.stringify({ type: 'summary', ...s, seconds: round(s.seconds), longestDownMs: Math.round(s.longestDownMs), latencyMs: roundAll(s.latencyMs) }) + '\n';
  }
  return (
    `qtstatus ping: stopped after ${s.beats} beat${s.beats === 1 ? '' : 's'} in ${duration(s.seconds * 1000)}: ${s.succeeded} answered 204, ${s.failed} failed` +
    `${Object.keys(s.errors).length ? ` (${counts(s.errors)})` : ''}; ${s.changes} change${s.changes === 1 ? '' : 's'} of state` +
    `${s.longestDownMs > 0 ? `, longest down ${duration(s.longestDownMs)}` : ''}` +
    `${s.latencyMs ? `; latency ${pct(s.latencyMs)}` : ''}\n`
  );
}
