// `qtstatus serve` assembled in one place (issue #11): from a plain config,
// the TLS material, the store, the UDP sender, the metrics and the HTTP(S)
// server. Whatever start made, close undoes, in reverse; a start that fails
// half-way undoes what it had made before it throws (like undici's Agent:
// one object owns its resources). The single-process server and every
// `--workers` process call startRuntime; the primary of `--workers` calls
// checkRuntime once so a mistake is one error rather than one per worker.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';
import { openUdpSender, type UdpTarget } from '../net/udp-sender.ts';
import type { RevocationList } from '../pki/crl.ts';
import { createNsClock } from '../protocol/time.ts';
import { openStore } from '../store/open.ts';
import type { RequestLog } from './app.ts';
import { createMetrics, shareWithCluster, type ServerMetrics } from './metrics.ts';
import { startMetricsServer } from './metrics-server.ts';
import { trustList } from './proxy.ts';
import { RateLimiter } from './rate-limit.ts';
import { startServer, type ExpiredCrlPolicy, type Limits, type TlsMaterial } from './server.ts';
import { loadRevocation, loadTlsMaterial, type TlsFiles } from './tls-files.ts';

export interface RuntimeConfig {
  host: string;
  port: number;
  /** Serve this already listening socket (systemd socket activation) instead of host and port. */
  listenFd?: number;
  /** The server's certificate, key, the client CA and the CRL. */
  tls: TlsFiles;
  passphrase?: string;
  /** Plain HTTP behind these proxies (docs/nginx.md) instead of TLS. */
  proxy?: { trusted: string[]; legacyCnHeader: boolean };
  db: string;
  /** The environment a postgres:// URL reads (PGPASSWORD, PGPASSFILE …), as libpq would. */
  dbEnv?: Record<string, string | undefined>;
  storeTimeoutMs: number;
  autoEnroll: boolean;
  udp: { targets: UdpTarget[]; sourcePort: number; ttl: number; loopbackOnly: boolean };
  /** Requests a second per identity and the burst; absent: no limit. */
  rateLimit?: { perSecond: number; burst: number };
  maxBodyBytes: number;
  limits: Limits;
  /** Once the CRL is past its next update: refuse everyone (default, as nginx) or go on with it. */
  expiredCrl?: ExpiredCrlPolicy;
  /** Reload when the CRL file changes (as on SIGHUP). */
  watchCrl?: boolean;
  /** Serve Prometheus metrics here; `cluster`: hand them to the --workers primary instead. */
  metrics?: { host: string; port: number } | 'cluster';
  onLog?: (entry: RequestLog) => void;
  onStoreError?: (err: unknown) => void;
  onUdpError?: (err: Error, target: string) => void;
  /** Things an operator should know: a certificate or CRL near expiry, a reload by the CRL watch. */
  onNotice?: (notice: Notice) => void;
}

export interface Notice {
  level: 'info' | 'warn';
  code: 'expiry' | 'crl_reloaded' | 'crl_reload_failed';
  /** For `expiry`: whose. */
  which?: 'server' | 'ca' | 'crl';
  message: string;
  cause?: unknown;
}

const DAY_MS = 86_400_000;
/** Certificates warn this far ahead; a CRL, whose next update is often a week away, one day ahead. */
const WARN_CERT_MS = 30 * DAY_MS;
const WARN_CRL_MS = DAY_MS;
const EXPIRY_CHECK_MS = 12 * 3_600_000;
/** A file written by a rename or several writes settles before it is read. */
const WATCH_SETTLE_MS = 200;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Runtime {
  url: string;
  /** "sqlite:qtstatus.db", the store's description (no password). */
  store: string;
  targets: string[];
  metricsUrl?: string;
  metrics: ServerMetrics;
  udpStats(): { sent: number; failed: number };
  /** Re-reads the TLS files (and CRL); a bad file keeps the old ones (throws). Returns how many revoked connections were closed. */
  reload(): Promise<number>;
  /** Stops accepting, lets requests in flight finish within graceMs, then closes everything start made. */
  close(graceMs: number): Promise<void>;
}

/** Reads what the config names and opens nothing that stays open: the --workers primary's check. */
export async function checkRuntime(c: RuntimeConfig): Promise<void> {
  const proxy = c.proxy && trustList(c.proxy.trusted);
  if (!proxy) await loadTlsMaterial(c.tls, c.passphrase);
  else if (c.tls.crl !== undefined) await loadRevocation(c.tls.crl, c.tls.ca);
  await (await openStore(c.db, { verify: true, env: c.dbEnv ?? {} })).close();
  await (await openUdpSender({ targets: c.udp.targets, sourcePort: 0, loopbackOnly: c.udp.loopbackOnly })).close();
}

export async function startRuntime(c: RuntimeConfig): Promise<Runtime> {
  const undo: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const step of undo.splice(0).reverse()) await step().catch(() => {});
  };
  try {
    const trusted = c.proxy && trustList(c.proxy.trusted);
    const tls = trusted ? undefined : await loadTlsMaterial(c.tls, c.passphrase);
    // Behind nginx, nginx refuses revoked certificates at the handshake (its
    // ssl_crl); with a CRL here too, a revoked one is refused per request.
    const revocation: RevocationList | undefined = trusted && c.tls.crl !== undefined ? await loadRevocation(c.tls.crl, c.tls.ca) : undefined;

    const store = await openStore(c.db, { writeTimeoutMs: c.storeTimeoutMs, verify: true, env: c.dbEnv ?? {} });
    undo.push(() => store.close());
    const sender = await openUdpSender({ ...c.udp, onError: c.onUdpError });
    undo.push(() => sender.close());
    const metrics = createMetrics(() => sender.stats);

    const server = await startServer({
      host: c.host,
      port: c.port,
      listenFd: c.listenFd,
      tls,
      proxy: trusted ? { trusted, legacyCnHeader: c.proxy?.legacyCnHeader === true } : undefined,
      revocation,
      store,
      sender,
      clock: createNsClock(),
      autoEnroll: c.autoEnroll,
      limiter: c.rateLimit && new RateLimiter(c.rateLimit),
      maxBodyBytes: c.maxBodyBytes,
      metrics,
      limits: c.limits,
      expiredCrl: c.expiredCrl,
      onLog: c.onLog,
      onStoreError: c.onStoreError,
    });
    let graceMs = 0;
    undo.push(() => server.close(graceMs));

    const notice = (n: Notice) => c.onNotice?.(n);
    let expiryTimer: NodeJS.Timeout | undefined;
    // Gauges, warnings ahead of expiry, and (for 'accept') a context without
    // the CRL the moment it falls due, rather than OpenSSL refusing everyone.
    const watchExpiry = (m: TlsMaterial | undefined, list: RevocationList | undefined) => {
      clearTimeout(expiryTimer);
      const e = { serverMs: m?.expiry?.serverMs, caMs: m?.expiry?.caMs, crlMs: list?.nextUpdateMs };
      const now = Date.now();
      const files = { serverMs: `the server certificate ${c.tls.cert}`, caMs: `the CA certificate ${c.tls.ca}`, crlMs: `the CRL ${c.tls.crl}` };
      for (const [key, which] of [['serverMs', 'server'], ['caMs', 'ca'], ['crlMs', 'crl']] as const) {
        const at = e[key];
        if (at === undefined) continue;
        metrics.expiry.set({ which }, at / 1000);
        const left = at - now;
        const when = new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
        if (left <= 0) {
          const then = key === 'crlMs' ? (c.expiredCrl === 'accept' ? 'revoked certificates are still refused by the old list' : 'every client is refused until a new one is loaded') : 'renew it';
          notice({ level: 'warn', code: 'expiry', which, message: `${files[key]} ${key === 'crlMs' ? 'is past its next update' : 'expired'} (${when}): ${then}` });
        } else if (left <= (key === 'crlMs' ? WARN_CRL_MS : WARN_CERT_MS)) {
          notice({ level: 'warn', code: 'expiry', which, message: `${files[key]} ${key === 'crlMs' ? 'falls due' : 'expires'} in ${Math.ceil(left / DAY_MS)} day(s) (${when})` });
        }
      }
      const crlLeft = (e.crlMs ?? Infinity) - now;
      const next = Math.min(EXPIRY_CHECK_MS, crlLeft > 0 ? crlLeft + 1000 : Infinity, MAX_TIMER_MS);
      expiryTimer = setTimeout(() => {
        if (m && c.expiredCrl === 'accept' && crlLeft > 0 && Date.now() > (e.crlMs ?? Infinity)) server.reload(m);
        watchExpiry(m, list);
      }, next).unref();
    };
    undo.push(async () => clearTimeout(expiryTimer));
    watchExpiry(tls, tls?.revocation ?? revocation);

    let metricsUrl: string | undefined;
    if (c.metrics === 'cluster') shareWithCluster(metrics);
    else if (c.metrics) {
      const m = await startMetricsServer(c.metrics, () => metrics.registry.metrics(), metrics.registry.contentType);
      undo.push(() => m.close());
      metricsUrl = m.url;
    }

    async function reload(): Promise<number> {
      if (trusted) {
        if (c.tls.crl === undefined) throw new QtError(ErrorCodes.USAGE, 'nothing to reload behind a proxy: nginx holds the certificates');
        const list = await loadRevocation(c.tls.crl, c.tls.ca);
        server.setRevocation(list);
        watchExpiry(undefined, list);
        return 0;
      }
      const material = await loadTlsMaterial(c.tls, c.passphrase);
      let closed: number;
      try {
        closed = server.reload(material);
      } catch (err) {
        throw new QtError(ErrorCodes.CERT, 'cannot use the new certificate, key, CA or CRL', { cause: err });
      }
      watchExpiry(material, material.revocation);
      return closed;
    }

    // A new CRL takes effect when its file changes (issue #12), as on
    // SIGHUP. The directory is watched: tools replace the file by a rename.
    const crlFile = c.tls.crl;
    if (crlFile !== undefined && c.watchCrl) {
      let settle: NodeJS.Timeout | undefined;
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(dirname(crlFile), (_event, name) => {
          if (name !== null && name !== basename(crlFile)) return;
          clearTimeout(settle);
          settle = setTimeout(() => {
            reload().then(
              (closed) => notice({ level: 'info', code: 'crl_reloaded', message: `the CRL ${crlFile} changed: reloaded${closed ? `; closed ${closed} connection${closed === 1 ? '' : 's'} of revoked certificates` : ''}` }),
              (err) => notice({ level: 'warn', code: 'crl_reload_failed', message: `the CRL ${crlFile} changed but cannot be used; the old one stays`, cause: err }),
            );
          }, WATCH_SETTLE_MS);
        });
        watcher.on('error', () => watcher?.close());
      } catch {
        watcher = undefined; // no inotify here: SIGHUP still reloads
      }
      undo.push(async () => {
        clearTimeout(settle);
        watcher?.close();
      });
    }

    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      store: store.description,
      targets: sender.targets,
      metricsUrl,
      metrics,
      udpStats: () => sender.stats,
      reload,
      close(ms) {
        graceMs = ms;
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
