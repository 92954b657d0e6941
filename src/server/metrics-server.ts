// The plain-HTTP listener for `serve --metrics`, in a single server or in
// the primary of `--workers`.

import http from 'node:http';
import { ErrorCodes, QtError } from '../errors.ts';
import { hostPort } from '../net/address.ts';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Prometheus text on http://HOST:PORT/metrics. */
export async function startMetricsServer(
  addr: { host: string; port: number },
  text: () => Promise<string>,
  contentType: string,
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end('see /metrics\n');
    text().then(
      (body) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect metrics: ${String((e as Error)?.message ?? e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(new QtError(ErrorCodes.NETWORK, `cannot listen for metrics on ${hostPort(addr.host, addr.port)}`, { cause: e, reason: 'metrics_listen_failed', setting: 'metrics', value: hostPort(addr.host, addr.port) })),
    );
    server.listen(addr.port, addr.host, resolve);
  });
  const a = server.address() as { address: string; port: number };
  return {
    url: `http://${hostPort(a.address, a.port)}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
