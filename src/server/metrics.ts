// Prometheus metrics (issue #4), with prom-client: the exposition format,
// histograms and the process metrics are its job, not ours.

import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServerMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  latency: Histogram<'route'>;
  storeErrors: Counter;
  connections: Gauge;
  clientVerifyFailures: Counter<'reason'>;
  handshakeErrors: Counter<'reason'>;
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
  return {
    registry,
    requests: new Counter({ name: 'qtstatus_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'qtstatus_http_request_duration_seconds',
      help: 'Time from request to response',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    storeErrors: new Counter({ name: 'qtstatus_store_errors_total', help: 'Store operations that failed', registers: [registry] }),
    connections: new Gauge({ name: 'qtstatus_open_connections', help: 'Open client connections', registers: [registry] }),
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
