// `qtstatus serve`: the mTLS status server (issue #4). This file reads flags
// and signals; the server is assembled in src/server/runtime.ts, which the
// `--workers` processes (../serve-cluster.ts) call too.

import cluster from 'node:cluster';
import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import { DEFAULT_UDP_TARGET, formatTarget } from '../../net/udp-sender.ts';
import { startRuntime } from '../../server/runtime.ts';
import { DEFAULT_LIMITS } from '../../server/server.ts';
import { DEFAULT_DB } from '../../store/open.ts';
import { BatchWriter } from '../batch-writer.ts';
import { formatError } from '../report.ts';
import { collect, durationOption, parseHostPort, parseNonNegativeInt, parsePort, parsePositiveInt, sizeOption } from '../options.ts';
import { colourFor } from '../style.ts';
import { runPrimary } from '../serve-cluster.ts';
import { activationFd, banner, jsonLog, runtimeConfig, textLog, type ServeOptions } from '../serve-setup.ts';

/** What to do about a certificate or CRL that is about to expire, by whose it is. */
const RENEW = {
  server: 'renew it with `qtstatus certs renew` and send SIGHUP',
  ca: 'a new CA means new certificates for every server and client: plan it with `qtstatus certs check`',
  crl: 're-issue it with `qtstatus certs crl` and copy ca.crl here: it is picked up by itself',
} as const;

/**
 * Serves until a signal; in a `--workers` process, reports to the primary instead of printing.
 * `command`: the serve command, so warnings' hints name its settings as the user gave them.
 */
async function serve(opts: ServeOptions, worker: boolean, command?: Command): Promise<void> {
  const err = colourFor(process.stderr);
  const info = (text: string) => process.stderr.write(`${text}\n`);
  const warn = (text: string) => info(err.yellow(`qtstatus serve: ${text}`));
  const plain = (e: unknown) => formatError(e, command).replace(/^qtstatus: /, '');
  const logJson = opts.log === 'json' || (opts.log === 'auto' && !process.stdout.isTTY);
  // Log lines gather for 20 ms: one write for many requests.
  const logs = new BatchWriter(process.stdout, undefined, worker ? 4096 : Infinity, 20);
  const runtime = await startRuntime({
    ...runtimeConfig(opts, process.env),
    metrics: worker ? 'cluster' : opts.metrics,
    onLog: opts.log === 'off' ? undefined : (e) => logs.write(logJson ? jsonLog(e) : textLog(e)),
    onStoreError: (e) => warn(`store error: ${plain(e)}`),
    onUdpError: (e, target) => warn(`UDP send to ${target} failed: ${e.message}`),
    onNotice: (n) => {
      if (n.level === 'info') return info(`qtstatus serve: ${n.message}`);
      warn(`${n.message}${n.cause ? `: ${plain(n.cause)}` : ''}${n.which ? ` (${RENEW[n.which]})` : ''}`);
    },
  });
  if (runtime.metricsUrl) info(`metrics on ${runtime.metricsUrl}`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        info(`qtstatus serve: ${signal} again: forcing exit`);
        process.exit(1);
      }
      stopping = true;
      if (!worker) info(`qtstatus serve: ${signal}: finishing requests in flight (up to ${opts.grace / 1000}s; again to force)`);
      runtime
        .close(opts.grace)
        .then(() => logs.end(2000))
        .then(() => resolve(), resolve);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGHUP', () => {
      runtime.reload().then(
        (closed) => info(`qtstatus serve: SIGHUP: reloaded the certificate, key, CA and CRL${closed ? `; closed ${closed} connection${closed === 1 ? '' : 's'} of revoked certificates` : ''}`),
        (e) => (e instanceof QtError && e.code === ErrorCodes.USAGE ? info(`qtstatus serve: SIGHUP: ${e.message}`) : warn(`SIGHUP: kept the old certificates: ${plain(e)}`)),
      );
    });
    // Only now, with every signal handled, do tests and scripts see us ready.
    if (worker) return void process.send?.({ type: 'listening', url: runtime.url, store: runtime.store, targets: runtime.targets });
    for (const line of banner(opts, runtime)) info(line);
  });
  // A worker's IPC channel would keep it alive: let go of the primary.
  if (worker) cluster.worker?.disconnect();
  else {
    const udp = runtime.udpStats();
    info(`qtstatus serve: stopped (UDP packets sent ${udp.sent}, failed ${udp.failed}${logs.dropped ? `, log lines dropped ${logs.dropped}` : ''})`);
  }
  // Log lines a stdout reader never took keep a write, and the process,
  // alive until the reader goes: they were counted above (issue #10).
  if (logs.stuck) process.exit(0);
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .summary('run the mTLS status server')
    .description(
      'Serve PATCH /api/client over HTTPS with client certificates. Each verified user is recorded (last seen, IP, port) and announced as a UDP status packet. GET /healthz answers without a certificate. SIGHUP reloads the certificates.',
    )
    .option('--config <file>', 'settings from this file: `name = value` lines, as the long options (docs/deploy.md)')
    .option('-H, --host <addr>', 'address to listen on', '0.0.0.0')
    .option('-p, --port <port>', 'HTTPS port', parsePort, 8443)
    .option('--cert <file>', 'server certificate (PEM)', 'certs/server.crt')
    .option('--key <file>', 'server private key (PEM; passphrase in QTSTATUS_KEY_PASSPHRASE)', 'certs/server.key')
    .option('--ca <file>', 'CA that signs client certificates', 'certs/ca.crt')
    .option('--crl <file>', 'certificate revocation list (PEM or DER) to refuse revoked clients; reloaded when the file changes')
    .option('--expired-crl <policy>', 'once the CRL is past its next update: refuse every client, or accept (revoked ones stay refused)', 'refuse')
    .option('--db <file|url>', 'SQLite database file or postgres:// URL', DEFAULT_DB)
    .option('--auto-enroll', 'register a CA-verified email on first contact')
    .option('--udp-target <host:port>', `where status packets go; repeatable (default ${formatTarget(DEFAULT_UDP_TARGET)})`, collect((v) => parseHostPort(v)))
    .option('--udp-source-port <port>', 'UDP source port of status packets', parsePort, 6666)
    .option('--udp-ttl <hops>', 'multicast TTL', parsePositiveInt, 1)
    .option('--trust-proxy <addr|cidr>', 'plain HTTP behind nginx: believe its X-Client-Cert, X-Client-Verify, X-Real-IP… from these; repeatable', collect(String))
    .option('--legacy-cn-header', 'behind nginx, also believe the old X-Subject-CN header (unsafe; warns; docs/nginx.md)')
    .option('--metrics <[host:]port>', 'Prometheus metrics on this address (host defaults to 127.0.0.1)', (v) => (/^\d+$/.test(v) ? { host: '127.0.0.1', port: parsePort(v) } : parseHostPort(v, '127.0.0.1')))
    // A device beats every few seconds at most; a load test from one
    // identity (`ping --count 1000`) fits in the burst (issue #13).
    .option('--rate-limit <n>', 'requests per second per identity, after the burst; 0 turns it off', parseNonNegativeInt, 50)
    .option('--rate-burst <n>', 'requests an identity may make at once', parsePositiveInt, 1000)
    .addOption(sizeOption('--max-body <size>', 'largest request body (1k = 1024 bytes)', 1024))
    .option('--max-connections <n>', 'most open connections; at the limit unverified ones make room', parsePositiveInt, DEFAULT_LIMITS.maxConnections)
    .option('--max-connections-per-address <n>', 'most open connections from one client address', parsePositiveInt, DEFAULT_LIMITS.maxConnectionsPerAddress)
    .addOption(durationOption('--max-connection-age <duration>', 'close a connection after its next answer once it is this old (0: never)', DEFAULT_LIMITS.maxConnectionAgeMs))
    .addOption(sizeOption('--max-header-size <size>', 'largest request header', DEFAULT_LIMITS.maxHeaderSize))
    .addOption(durationOption('--handshake-timeout <duration>', 'time allowed for the TLS handshake', DEFAULT_LIMITS.handshakeTimeoutMs))
    .addOption(durationOption('--header-timeout <duration>', 'time allowed for the request headers', DEFAULT_LIMITS.headersTimeoutMs))
    .addOption(durationOption('--request-timeout <duration>', 'time allowed for a whole request', DEFAULT_LIMITS.requestTimeoutMs))
    .addOption(durationOption('--store-timeout <duration>', 'how long an update may wait for the database before it gets 503', 2000))
    .addOption(durationOption('--grace <duration>', 'time to finish requests in flight at shutdown', 10_000))
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
    .action(async (opts: ServeOptions, command: Command) => {
      if (!['refuse', 'accept'].includes(opts.expiredCrl)) {
        throw new QtError(ErrorCodes.USAGE, `--expired-crl "${opts.expiredCrl}" is not one of refuse, accept`);
      }
      if (!['auto', 'json', 'text', 'off'].includes(opts.log)) {
        throw new QtError(ErrorCodes.USAGE, `--log "${opts.log}" is not one of auto, json, text, off`);
      }
      if (opts.workers > 1 && cluster.isPrimary) {
        if (activationFd(process.env, process.pid) !== undefined) {
          throw new QtError(ErrorCodes.USAGE, 'a socket from systemd (socket activation) is served by one process', { hint: 'drop --workers, or let qtstatus bind --port itself' });
        }
        return runPrimary(opts);
      }
      await serve(opts, cluster.isWorker, command);
    });
}
