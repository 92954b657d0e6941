// The request metrics (issue #4) are counted in plain numbers and handed to
// prom-client when scraped: the text must be what prom-client's own Counter
// and Histogram would print for the same requests, and `--workers` sums must
// still add up.
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.ts';

const durations: Array<[string, number, number]> = [
  ['api_client', 204, 0.0004],
  ['api_client', 204, 0.001], // on a bound: counted in le="0.001"
  ['api_client', 403, 0.003],
  ['api_client', 204, 2], // past every bound: +Inf only
  ['healthz', 200, 0.0001],
];

/** The lines of `text` that belong to metric `name` (and its _bucket/_sum/_count series), sorted. */
function series(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .map((l) => l.replace(/\{([^}]*)\}/, (_, labels: string) => `{${labels.split(',').sort().join(',')}}`))
    .sort();
}

function reference(): Registry {
  const registry = new Registry();
  const requests = new Counter({ name: 'qtstatus_http_requests_total', help: 'x', labelNames: ['route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'qtstatus_http_request_duration_seconds',
    help: 'x',
    labelNames: ['route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  for (const [route, status, seconds] of durations) {
    requests.inc({ route, status: String(status) });
    latency.observe({ route }, seconds);
  }
  return registry;
}

describe('server metrics', () => {
  it('print the requests and latency series prom-client itself would', async () => {
    const m = createMetrics(() => ({ sent: 0, failed: 0 }));
    for (const [route, status, seconds] of durations) m.answered(route, status, seconds);
    const ours = await m.registry.metrics();
    const theirs = await reference().metrics();
    expect(series(ours, 'qtstatus_http_requests_total')).toEqual(series(theirs, 'qtstatus_http_requests_total'));
    expect(series(ours, 'qtstatus_http_request_duration_seconds')).toEqual(series(theirs, 'qtstatus_http_request_duration_seconds'));
    expect(ours).toContain('# TYPE qtstatus_http_request_duration_seconds histogram');
    expect(ours).toMatch(/^qtstatus_http_request_duration_seconds_bucket\{route="api_client",le="0\.001"\} 2$/m);
    expect(ours).toMatch(/^qtstatus_http_request_duration_seconds_count\{route="api_client"\} 4$/m);
  });

  it('sum across workers like prom-client histograms', async () => {
    const a = createMetrics(() => ({ sent: 3, failed: 0 }));
    const b = createMetrics(() => ({ sent: 2, failed: 1 }));
    for (const [route, status, seconds] of durations) {
      a.answered(route, status, seconds);
      b.answered(route, status, seconds);
    }
    const summed = await AggregatorRegistry.aggregate([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]).metrics();
    expect(summed).toMatch(/^qtstatus_http_requests_total\{route="api_client",status="204"\} 6$/m);
    expect(summed).toMatch(/^qtstatus_http_request_duration_seconds_bucket\{route="api_client",le="\+Inf"\} 8$/m);
    expect(summed).toMatch(/^qtstatus_http_request_duration_seconds_count\{route="api_client"\} 8$/m);
    expect(summed).toMatch(/^qtstatus_udp_packets_sent_total 5$/m);
  });
});
