// What both `serve` paths share in the CLI (issue #11): the options, the
// runtime config they make, the request log lines and the banner. The
// server itself is assembled in src/server/runtime.ts.

import { hostPort } from '../net/address.ts';
import { DEFAULT_UDP_TARGET, type UdpTarget } from '../net/udp-sender.ts';
import type { RequestLog } from '../server/app.ts';
import type { RuntimeConfig } from '../server/runtime.ts';
import { DEFAULT_LIMITS } from '../server/server.ts';
import { escapeText, safeJson } from './escape.ts';
import { colourFor } from './style.ts';

export interface ServeOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  ca: string;
  crl?: string;
  expiredCrl: 'refuse' | 'accept';
  db: string;
  autoEnroll?: boolean;
  udpTarget?: UdpTarget[];
  udpSourcePort: number;
  udpTtl: number;
  trustProxy?: string[];
  legacyCnHeader?: boolean;
  metrics?: { host: string; port: number };
  rateLimit: number;
  rateBurst: number;
  maxBody: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxConnectionAge: number;
  maxHeaderSize: number;
  handshakeTimeout: number;
  headerTimeout: number;
  requestTimeout: number;
  grace: number;
  storeTimeout: number;
  log: 'auto' | 'json' | 'text' | 'off';
  workers: number;
}

export const proxyMode = (o: ServeOptions) => o.trustProxy !== undefined && o.trustProxy.length > 0;

/** Method, path and identity come from the network: escaped (issue #10, defect 3). */
export function textLog(e: RequestLog): string {
  const who = e.identity === undefined ? '-' : escapeText(e.identity);
  const from = e.ip === undefined ? '-' : hostPort(e.ip, e.port ?? 0);
  return `${e.time} ${e.status} ${escapeText(e.method)} ${escapeText(e.path)} ${who} ${from} ${e.ms}ms ${e.id}${e.code ? ` ${e.code}` : ''}\n`;
}

export function jsonLog(e: RequestLog): string {
  return safeJson(e) + '\n';
}

/**
 * systemd socket activation (sd_listen_fds(3)): one socket, passed as fd 3,
 * when LISTEN_PID is this process. Then systemd holds the port (443 too) and
 * the server needs no privilege to bind it.
 */
export function activationFd(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  return env.LISTEN_FDS === '1' && Number(env.LISTEN_PID) === pid ? 3 : undefined;
}

/** The runtime config the flags (and the environment) describe; the callbacks are the caller's. */
export function runtimeConfig(o: ServeOptions, env: NodeJS.ProcessEnv): RuntimeConfig {
  return {
    host: o.host,
    port: o.port,
    listenFd: activationFd(env, process.pid),
    tls: { cert: o.cert, key: o.key, ca: o.ca, crl: o.crl },
    passphrase: env.QTSTATUS_KEY_PASSPHRASE,
    proxy: proxyMode(o) ? { trusted: o.trustProxy as string[], legacyCnHeader: o.legacyCnHeader === true } : undefined,
    expiredCrl: o.expiredCrl,
    watchCrl: true,
    db: o.db,
    dbEnv: env,
    storeTimeoutMs: o.storeTimeout,
    autoEnroll: o.autoEnroll === true,
    udp: {
      targets: o.udpTarget ?? [DEFAULT_UDP_TARGET],
      sourcePort: o.udpSourcePort,
      ttl: o.udpTtl,
      loopbackOnly: env.QTSTATUS_LOOPBACK_ONLY === '1',
    },
    rateLimit: o.rateLimit > 0 ? { perSecond: o.rateLimit, burst: Math.max(1, o.rateBurst) } : undefined,
    maxBodyBytes: o.maxBody,
    limits: {
      ...DEFAULT_LIMITS,
      handshakeTimeoutMs: o.handshakeTimeout,
      headersTimeoutMs: o.headerTimeout,
      requestTimeoutMs: o.requestTimeout,
      maxHeaderSize: o.maxHeaderSize,
      maxConnections: o.maxConnections,
      maxConnectionsPerAddress: o.maxConnectionsPerAddress,
      maxConnectionAgeMs: o.maxConnectionAge,
    },
    metrics: o.metrics,
  };
}

/** The lines that say the server is up: tests and scripts wait for "serving URL". */
export function banner(o: ServeOptions, running: { url: string; store: string; targets: string[] }, workers = 1): string[] {
  const c = colourFor(process.stderr);
  const lines: string[] = [];
  if (o.legacyCnHeader && proxyMode(o)) {
    lines.push(
      c.yellow(
        'qtstatus serve: --legacy-cn-header: identities come from the X-Subject-CN header, which nginx cuts out of DN text; an escaped comma in a subject can forge it (docs/nginx.md). Forward the certificate instead: X-Client-Cert $ssl_client_escaped_cert.',
      ),
    );
  }
  const how = proxyMode(o) ? ` (plain HTTP behind trusted proxies ${o.trustProxy?.join(', ')})` : ` (client certificates from ${o.ca})`;
  lines.push(`${c.bold('serving')} ${running.url}${workers > 1 ? ` with ${workers} workers` : ''}${how}`);
  lines.push(`store ${running.store}; UDP from port ${o.udpSourcePort} to ${running.targets.join(', ')}${o.autoEnroll ? '; auto-enroll on' : ''}`);
  return lines;
}
