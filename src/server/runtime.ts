// `qtstatus serve` assembled in one place (issue #11): from a plain config,
// the TLS material, the store, the UDP sender, the metrics and the HTTP(S)
// server. Whatever start made, close undoes, in reverse; a start that fails
// half-way undoes what it had made before it throws (like undici's Agent:
// one object owns its resources). The single-process server and every
// `--workers` process call startRuntime; the primary of `--workers` calls
// checkRuntime once so a mistake is one error rather than one per worker.

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
import { startServer, type Limits } from './server.ts';
import { loadRevocation, loadTlsMaterial, type TlsFiles } from './tls-files.ts';

export interface RuntimeConfig {
  host: string;
  port: number;
  /** The server's certificate, key, the client CA and the CRL. */
  tls: TlsFiles;
  passphrase?: string;
  /** Plain HTTP behind these proxies (docs/nginx.md) instead of TLS. */
  proxy?: { trusted: string[]; legacyCnHeader: boolean };
  db: string;
  storeTimeoutMs: number;
  autoEnroll: boolean;
  udp: { targets: UdpTarget[]; sourcePort: number; ttl: number; loopbackOnly: boolean };
  /** Requests a second per identity and the burst; absent: no limit. */
  rateLimit?: { perSecond: number; burst: number };
  maxBodyBytes: number;
  limits: Limits;
  /** Serve Prometheus metrics here; `cluster`: hand them to the --workers primary instead. */
  metrics?: { host: string; port: number } | 'cluster';
  onLog?: (entry: RequestLog) => void;
  onStoreError?: (err: unknown) => void;
  onUdpError?: (err: Error, target: string) => void;
}

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
  await (await openStore(c.db, { verify: true })).close();
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

    const store = await openStore(c.db, { lockWaitMs: c.storeTimeoutMs, verify: true });
    undo.push(() => store.close());
    const sender = await openUdpSender({ ...c.udp, onError: c.onUdpError });
    undo.push(() => sender.close());
    const metrics = createMetrics(() => sender.stats);

    const server = await startServer({
      host: c.host,
      port: c.port,
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
      onLog: c.onLog,
      onStoreError: c.onStoreError,
    });
    let graceMs = 0;
    undo.push(() => server.close(graceMs));

    let metricsUrl: string | undefined;
    if (c.metrics === 'cluster') shareWithCluster(metrics);
    else if (c.metrics) {
      const m = await startMetricsServer(c.metrics, () => metrics.registry.metrics(), metrics.registry.contentType);
      undo.push(() => m.close());
      metricsUrl = m.url;
    }

    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      store: store.description,
      targets: sender.targets,
      metricsUrl,
      metrics,
      udpStats: () => sender.stats,
      async reload() {
        if (trusted) {
          if (c.tls.crl === undefined) throw new QtError(ErrorCodes.USAGE, 'nothing to reload behind a proxy: nginx holds the certificates');
          server.setRevocation(await loadRevocation(c.tls.crl, c.tls.ca));
          return 0;
        }
        const material = await loadTlsMaterial(c.tls, c.passphrase);
        try {
          return server.reload(material);
        } catch (err) {
          throw new QtError(ErrorCodes.CERT, 'cannot use the new certificate, key, CA or CRL', { cause: err });
        }
      },
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
