// One undici Agent per client identity: its connections and TLS sessions
// belong to that certificate alone (a TLS session cache is keyed by server
// name, so a shared one would resume one client's session for another).

import { Agent } from 'undici';
import { createConnector, type ConnectionInfo } from './connect.ts';
import type { Credentials } from './credentials.ts';
import type { Target } from './target.ts';

export interface ClientOptions {
  target: Target;
  credentials: Credentials;
  insecure?: boolean;
  /** For connecting (DNS, TCP, TLS) and, separately, for the answer. */
  timeoutMs: number;
  /** Most connections open at once (the concurrency). */
  connections?: number;
  /** A new connection and a full TLS handshake for every request. */
  newConnection?: boolean;
  /** How long an idle connection stays open for the next request. */
  keepAliveMs?: number;
  /** e.g. qtstatus/0.1.0 */
  userAgent?: string;
}

export interface ConnectionStats {
  /** Connections made (each a TLS handshake). */
  opened: number;
  /** Handshakes that resumed a TLS session. */
  resumed: number;
  /** Time from the start of each connection to the end of its handshake, ms. */
  handshakeMs: number[];
  /** The first connection, for the TLS version and cipher. */
  first?: ConnectionInfo;
}

export interface PingClient {
  readonly target: Target;
  readonly credentials: Credentials;
  readonly newConnection: boolean;
  readonly timeoutMs: number;
  /** Sent with every request. */
  readonly headers: Record<string, string>;
  readonly agent: Agent;
  readonly stats: ConnectionStats;
  /** Lets requests in flight finish, then closes the connections. */
  close(): Promise<void>;
  /** Fails requests in flight and closes at once. */
  destroy(): Promise<void>;
}

export function createClient(o: ClientOptions): PingClient {
  const stats: ConnectionStats = { opened: 0, resumed: 0, handshakeMs: [] };
  const newConnection = o.newConnection === true;
  const connect = createConnector({
    credentials: o.credentials,
    insecure: o.insecure === true,
    timeoutMs: o.timeoutMs,
    resumeSessions: !newConnection,
    onConnection: (c) => {
      stats.opened++;
      if (c.sessionReused) stats.resumed++;
      stats.handshakeMs.push((c.secureAt ?? c.startedAt) - c.startedAt);
      stats.first ??= c;
    },
  });
  const keepAlive = o.keepAliveMs ?? 4000;
  const agent = new Agent({
    connect,
    connections: o.connections ?? 1,
    pipelining: 1,
    allowH2: false,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    keepAliveTimeout: keepAlive,
    keepAliveMaxTimeout: Math.max(keepAlive, 600_000),
  });
  return {
    target: o.target,
    credentials: o.credentials,
    newConnection,
    timeoutMs: o.timeoutMs,
    headers: o.userAgent ? { 'user-agent': o.userAgent } : {},
    agent,
    stats,
    close: () => agent.close(),
    destroy: () => agent.destroy(),
  };
}
