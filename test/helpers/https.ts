// One HTTPS request with an optional client certificate, on a new connection.
import { readFileSync } from 'node:fs';
import https from 'node:https';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => any;
  /** The client's local port: what the server should record. */
  localPort: number;
}

export function request(
  url: string,
  opts: { ca?: string; cert?: string; key?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.method ?? 'PATCH',
        ca: opts.ca ? readFileSync(opts.ca) : undefined,
        cert: opts.cert ? readFileSync(opts.cert) : undefined,
        key: opts.key ? readFileSync(opts.key) : undefined,
        headers: opts.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body), localPort: req.socket?.localPort ?? 0 }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
