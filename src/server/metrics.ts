// Prometheus metrics (issue #4), with prom-client: the exposition format,
// cluster sums and the process metrics are its job, not ours. The two that
// move on every request are counted in plain numbers instead and handed to
// prom-client when scraped: its own inc() and observe() validate and hash
// their labels on each call, which cost ~5 µs a request under load here
// (bench/serve.ts), a tenth of the whole request.

import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export interface ServerMetrics {
  registry: Registry;
  /** One answered request: counted by route and status, its duration (seconds) observed. */
  answered(route: string, status: number, seconds: number): void;
  storeErrors: Counter;
  connections: Gauge;
  /** When the server certificate, the CA and the CRL (its next update) expire (issue #12). */
  expiry: Gauge<'which'>;
  connectionsShed: Counter<'reason'>;
  clientVerifyFailures: Counter<'reason'>;
  handshakeErrors: Counter<'reason'>;
}

interface RouteCounts {
  statuses: Map<number, number>;
  /** Per LATENCY_BUCKETS bound, then one past the last (+Inf); not cumulative. */
  buckets: number[];
  sum: number;
  count: number;
}

export function createMetrics(udp: () => { sent: number; failed: number }): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qtstatus_' });
  const udpStat = (key: 'sent' | 'failed') =>
    function (this: Counter) {
      this.reset();
      this.inc(udp()[key]);
    };
  new Counter({ name: 'qtstatus_udp_packets_sent_total', help: 'Status packets sent, per target', registers: [registry], collect: udpStat('sent') });
  new Counter({ name: 'qtstatus_udp_packets_failed_total', help: 'Status packets that failed to send', registers: [registry], collect: udpStat('failed') });

  const routes = new Map<string, RouteCounts>();
  new Counter({
    name: 'qtstatus_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect(this: Counter<'route' | 'status'>) {
      this.reset();
      for (const [route, r] of routes) for (const [status, n] of r.statuses) this.inc({ route, status: String(status) }, n);
    },
  });
  registry.registerMetric(latencyHistogram(routes) as unknown as Metric);

  return {
    registry,
    answered(route, status, seconds) {
      let r = routes.get(route);
      if (!r) routes.set(route, (r = { statuses: new Map(), buckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
      r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1);
      let i = 0;
      while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
      (r.buckets[i] as number)++;
      r.sum += seconds;
      r.count++;
    },
    storeErrors: new Counter({ name: 'qtstatus_store_errors_total', help: 'Store operations that failed', registers: [registry] }),
    connections: new Gauge({ name: 'qtstatus_open_connections', help: 'Open client connections', registers: [registry] }),
    // As cert-manager's certmanager_certificate_expiration_timestamp_seconds:
    // alert on `… - time() < 14 * 86400`.
    expiry: new Gauge({
      name: 'qtstatus_certificate_expiry_timestamp_seconds',
      help: 'When the server certificate, the client CA and the CRL (its next update) expire, Unix time',
      labelNames: ['which'],
      registers: [registry],
      aggregator: 'min',
    }),
    connectionsShed: new Counter({
      name: 'qtstatus_connections_shed_total',
      help: 'Connections closed or refused at a connection limit, or closed for a revoked certificate, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    clientVerifyFailures: new Counter({
      name: 'qtstatus_tls_client_verification_failures_total',
      help: 'Requests refused for their client certificate, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    handshakeErrors: new Counter({
      name: 'qtstatus_tls_handshake_errors_total',
      help: 'TLS handshakes that failed, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}

/**
 * The latency histogram as prom-client reads any metric: get() gives the
 * series in the shape its own Histogram gives (cumulative `_bucket` series
 * with `le`, then `_sum` and `_count`), so the registry formats them and
 * AggregatorRegistry sums them across workers like any histogram.
 */
function latencyHistogram(routes: Map<string, RouteCounts>) {
  const name = 'qtstatus_http_request_duration_seconds';
  const metric = { name, help: 'Time from request to response', type: 'histogram', aggregator: 'sum' };
  return {
    ...metric,
    async get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const [route, r] of routes) {
        let cumulative = 0;
        r.buckets.forEach((n, i) => {
          cumulative += n;
          values.push({ labels: { route, le: LATENCY_BUCKETS[i] ?? '+Inf' }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: { route }, value: r.sum, metricName: `${name}_sum` });
        values.push({ labels: { route }, value: r.count, metricName: `${name}_count` });
      }
      return { ...metric, values };
    },
    reset() {
      routes.clear();
    },
  };
}

/** In a `serve --workers` process: let the primary collect these metrics. */
export function shareWithCluster(metrics: ServerMetrics): void {
  new AggregatorRegistry(); // its constructor is what answers the primary's requests
  AggregatorRegistry.setRegistries([metrics.registry]);
}

/** In the primary: every worker's metrics, summed, as Prometheus text. */
export function clusterMetrics(): { text: () => Promise<string>; contentType: string } {
  const aggregator = new AggregatorRegistry();
  return { text: () => aggregator.clusterMetrics(), contentType: aggregator.contentType };
}
