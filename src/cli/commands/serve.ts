// `qtstatus serve`: the mTLS status server (issue #4). This file reads flags,
// files and signals; the server itself is src/server.

import cluster from 'node:cluster';
import http from 'node:http';
import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import { hostPort } from '../../net/address.ts';
import { createNsClock } from '../../protocol/time.ts';
import { DEFAULT_UDP_TARGET, formatTarget, openUdpSender, type UdpTarget } from '../../net/udp-sender.ts';
import type { RequestLog } from '../../server/app.ts';
import { createMetrics, shareWithCluster } from '../../server/metrics.ts';
import { trustList } from '../../server/proxy.ts';
import { RateLimiter } from '../../server/rate-limit.ts';
import { DEFAULT_LIMITS, startServer } from '../../server/server.ts';
import { loadRevocation, loadTlsMaterial, type TlsFiles } from '../../server/tls-files.ts';
import { DEFAULT_DB, openStore } from '../../store/open.ts';
import { BatchWriter } from '../batch-writer.ts';
import { escapeText, safeJson } from '../escape.ts';
import { formatError } from '../report.ts';
import { collect, parseDuration, parseHostPort, parseNonNegativeInt, parsePort, parsePositiveInt } from '../options.ts';
import { colourFor } from '../style.ts';
import { startMetricsServer } from '../metrics-server.ts';
import { runPrimary } from '../serve-cluster.ts';

export interface ServeOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  ca: string;
  crl?: string;
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

/** Method, path and identity come from the network: escaped (issue #10, defect 3). */
export function textLog(e: RequestLog): string {
  const who = e.identity === undefined ? '-' : escapeText(e.identity);
  const from = e.ip === undefined ? '-' : hostPort(e.ip, e.port ?? 0);
  return `${e.time} ${e.status} ${escapeText(e.method)} ${escapeText(e.path)} ${who} ${from} ${e.ms}ms ${e.id}${e.code ? ` ${e.code}` : ''}\n`;
}

/** Serves until a signal; in a `--workers` process, reports to the primary instead of printing. */
async function serve(opts: ServeOptions, worker: boolean): Promise<void> {
  const err = colourFor(process.stderr);
  const info = (text: string) => process.stderr.write(`${text}\n`);
  const proxyMode = opts.trustProxy !== undefined && opts.trustProxy.length > 0;
  const trusted = proxyMode ? trustList(opts.trustProxy as string[]) : undefined;
  const tlsFiles: TlsFiles = { cert: opts.cert, key: opts.key, ca: opts.ca, crl: opts.crl };
  const passphrase = process.env.QTSTATUS_KEY_PASSPHRASE;
  const tls = proxyMode ? undefined : await loadTlsMaterial(tlsFiles, passphrase);
  // Behind nginx, nginx refuses revoked certificates at the handshake (its
  // ssl_crl); with --crl here too, a revoked one is refused per request.
  const revocation = proxyMode && opts.crl !== undefined ? await loadRevocation(opts.crl, opts.ca) : undefined;

  const store = await openStore(opts.db, { lockWaitMs: opts.storeTimeout, verify: true });
  const logJson = opts.log === 'json' || (opts.log === 'auto' && !process.stdout.isTTY);
  // Log lines gather for 20 ms: one write for many requests.
  const logs = new BatchWriter(process.stdout, undefined, worker ? 4096 : Infinity, 20);
  const warn = (text: string) => info(err.yellow(`qtstatus serve: ${text}`));
  let sender;
  try {
    sender = await openUdpSender({
      targets: opts.udpTarget ?? [DEFAULT_UDP_TARGET],
      sourcePort: opts.udpSourcePort,
      ttl: opts.udpTtl,
      loopbackOnly: process.env.QTSTATUS_LOOPBACK_ONLY === '1',
      onError: (e, target) => warn(`UDP send to ${target} failed: ${e.message}`),
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const metrics = createMetrics(() => sender.stats);
  let running;
  try {
    running = await startServer({
      host: opts.host,
      port: opts.port,
      tls,
      proxy: trusted ? { trusted, legacyCnHeader: opts.legacyCnHeader === true } : undefined,
      revocation,
      store,
      sender,
      clock: createNsClock(),
      autoEnroll: opts.autoEnroll === true,
      limiter: opts.rateLimit > 0 ? new RateLimiter({ perSecond: opts.rateLimit, burst: Math.max(1, opts.rateBurst) }) : undefined,
      maxBodyBytes: opts.maxBody,
      metrics,
      limits: {
        ...DEFAULT_LIMITS,
        handshakeTimeoutMs: opts.handshakeTimeout,
        headersTimeoutMs: opts.headerTimeout,
        requestTimeoutMs: opts.requestTimeout,
        maxHeaderSize: opts.maxHeaderSize,
        maxConnections: opts.maxConnections,
        maxConnectionsPerAddress: opts.maxConnectionsPerAddress,
        maxConnectionAgeMs: opts.maxConnectionAge,
      },
      onLog: opts.log === 'off' ? undefined : (e) => logs.write(logJson ? safeJson(e) + '\n' : textLog(e)),
      onStoreError: (e) => warn(`store error: ${formatError(e).replace(/^qtstatus: /, '')}`),
    });
  } catch (e) {
    await Promise.all([store.close(), sender.close()]);
    throw e;
  }

  let metricsServer: http.Server | undefined;
  if (worker) shareWithCluster(metrics);
  else if (opts.metrics) {
    try {
      metricsServer = await startMetricsServer(opts.metrics, () => metrics.registry.metrics(), metrics.registry.contentType);
    } catch (e) {
      await running.close(0); // nothing may keep serving half-started
      await Promise.all([store.close(), sender.close()]);
      throw e;
    }
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        info(`qtstatus serve: ${signal} again: forcing exit`);
        process.exit(1);
      }
      stopping = true;
      if (!worker) info(`qtstatus serve: ${signal}: finishing requests in flight (up to ${opts.grace / 1000}s; again to force)`);
      Promise.all([running.close(opts.grace), metricsServer && new Promise((r) => metricsServer?.close(r))])
        .then(() => Promise.all([store.close(), sender.close(), logs.end(2000)]))
        .then(() => resolve(), resolve);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGHUP', () => {
      if (proxyMode) return info('qtstatus serve: SIGHUP: nothing to reload in proxy mode');
      loadTlsMaterial(tlsFiles, passphrase).then(
        (material) => {
          try {
            const closed = running.reload(material);
            info(`qtstatus serve: SIGHUP: reloaded the certificate, key, CA and CRL${closed ? `; closed ${closed} connection${closed === 1 ? '' : 's'} of revoked certificates` : ''}`);
          } catch (e) {
            warn(`SIGHUP: kept the old certificates: ${formatError(new QtError(ErrorCodes.CERT, 'cannot use the new files', { cause: e }))}`);
          }
        },
        (e) => warn(`SIGHUP: kept the old certificates: ${formatError(e).replace(/^qtstatus: /, '')}`),
      );
    });
    // Only now, with every signal handled, do tests and scripts see us ready.
    if (worker) return void process.send?.({ type: 'listening', url: running.url, store: store.description, targets: sender.targets });
    if (opts.legacyCnHeader && proxyMode) {
      warn('--legacy-cn-header: identities come from the X-Subject-CN header, which nginx cuts out of DN text; an escaped comma in a subject can forge it (docs/nginx.md). Forward the certificate instead: X-Client-Cert $ssl_client_escaped_cert.');
    }
    info(`${err.bold('serving')} ${running.url}${proxyMode ? ` (plain HTTP behind trusted proxies ${opts.trustProxy?.join(', ')})` : ` (client certificates from ${opts.ca})`}`);
    info(`store ${store.description}; UDP from port ${opts.udpSourcePort} to ${sender.targets.join(', ')}${opts.autoEnroll ? '; auto-enroll on' : ''}`);
  });
  // A worker's IPC channel would keep it alive: let go of the primary.
  if (worker) cluster.worker?.disconnect();
  else info(`qtstatus serve: stopped (UDP packets sent ${sender.stats.sent}, failed ${sender.stats.failed}${logs.dropped ? `, log lines dropped ${logs.dropped}` : ''})`);
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .summary('run the mTLS status server')
    .description(
      'Serve PATCH /api/client over HTTPS with client certificates. Each verified user\n' +
        'is recorded (last seen, IP, port) and announced as a UDP status packet.\n' +
        'GET /healthz answers without a certificate. SIGHUP reloads the certificates.',
    )
    .option('-H, --host <addr>', 'address to listen on', '0.0.0.0')
    .option('-p, --port <port>', 'HTTPS port', parsePort, 8443)
    .option('--cert <file>', 'server certificate (PEM)', 'certs/server.crt')
    .option('--key <file>', 'server private key (PEM; passphrase in QTSTATUS_KEY_PASSPHRASE)', 'certs/server.key')
    .option('--ca <file>', 'CA that signs client certificates', 'certs/ca.crt')
    .option('--crl <file>', 'certificate revocation list (PEM) to refuse revoked clients')
    .option('--db <file>', 'SQLite database file (env QTSTATUS_DB)', process.env.QTSTATUS_DB ?? DEFAULT_DB)
    .option('--auto-enroll', 'register a CA-verified email on first contact')
    .option('--udp-target <host:port>', `where status packets go; repeatable (default ${formatTarget(DEFAULT_UDP_TARGET)})`, collect((v) => parseHostPort(v)))
    .option('--udp-source-port <port>', 'UDP source port of status packets', parsePort, 6666)
    .option('--udp-ttl <hops>', 'multicast TTL', parsePositiveInt, 1)
    .option('--trust-proxy <addr|cidr>', 'plain HTTP behind nginx: believe its X-Client-Cert, X-Client-Verify, X-Real-IP… from these; repeatable', collect(String))
    .option('--legacy-cn-header', 'behind nginx, also believe the old X-Subject-CN header (unsafe; warns; docs/nginx.md)')
    .option('--metrics <[host:]port>', 'Prometheus metrics on this address (host defaults to 127.0.0.1)', (v) => (/^\d+$/.test(v) ? { host: '127.0.0.1', port: parsePort(v) } : parseHostPort(v, '127.0.0.1')))
    .option('--rate-limit <n>', 'requests per second per identity; 0 turns it off', parseNonNegativeInt, 10)
    .option('--rate-burst <n>', 'requests an identity may make at once', parsePositiveInt, 20)
    .option('--max-body <bytes>', 'largest request body', parseNonNegativeInt, 1024)
    .option('--max-connections <n>', 'most open connections; at the limit unverified ones make room', parsePositiveInt, DEFAULT_LIMITS.maxConnections)
    .option('--max-connections-per-address <n>', 'most open connections from one client address', parsePositiveInt, DEFAULT_LIMITS.maxConnectionsPerAddress)
    .option('--max-connection-age <duration>', 'close a connection after its next answer once it is this old (0: never)', parseDuration, DEFAULT_LIMITS.maxConnectionAgeMs)
    .option('--max-header-size <bytes>', 'largest request header', parsePositiveInt, DEFAULT_LIMITS.maxHeaderSize)
    .option('--handshake-timeout <duration>', 'time allowed for the TLS handshake', parseDuration, DEFAULT_LIMITS.handshakeTimeoutMs)
    .option('--header-timeout <duration>', 'time allowed for the request headers', parseDuration, DEFAULT_LIMITS.headersTimeoutMs)
    .option('--request-timeout <duration>', 'time allowed for a whole request', parseDuration, DEFAULT_LIMITS.requestTimeoutMs)
    .option('--store-timeout <duration>', 'how long an update may wait for the database before it gets 503', parseDuration, 2000)
    .option('--grace <duration>', 'time to finish requests in flight at shutdown', parseDuration, 10_000)
    .option('--workers <n>', 'processes serving one port with one shared store', parsePositiveInt, 1)
    .option('--log <format>', 'request log on stdout: auto (JSON unless a terminal), json, text, off', 'auto')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs init && qtstatus users add valid_user@qt-test.com
  $ qtstatus serve --udp-target 127.0.0.1:6667
  $ qtstatus serve --port 443 --db /var/lib/qtstatus/status.db --metrics 9464
  $ qtstatus serve --trust-proxy 127.0.0.1 --port 8000     behind nginx (docs/nginx.md)

Exit codes: 0 after SIGINT or SIGTERM, 1 when it cannot start (a file, the port,
the store), 2 for a usage error.`,
    )
    .action(async (opts: ServeOptions) => {
      if (!['auto', 'json', 'text', 'off'].includes(opts.log)) {
        throw new QtError(ErrorCodes.USAGE, `--log "${opts.log}" is not one of auto, json, text, off`);
      }
      if (opts.workers > 1 && cluster.isPrimary) return runPrimary(opts);
      await serve(opts, cluster.isWorker);
    });
}
