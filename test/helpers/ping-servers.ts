// Servers on 127.0.0.1 that produce each failure `qtstatus ping` explains:
// Node HTTPS servers with a given certificate, CA, TLS version and handler,
// raw TCP servers, and a port nothing listens on. They count handshakes and
// requests so tests can check reuse and --new-connection.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export const pem = (file: string): Buffer => readFileSync(file);

export interface Counts {
  handshakes: number;
  resumed: number;
  requests: number;
}

export interface TestHttps {
  port: number;
  /** https://localhost:<port>/api/client */
  url: string;
  counts: Counts;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export const answer204: Handler = (req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(204).end());
};

/** An HTTPS server; `port` 0 picks one (a given port lets a test restart a server in place). */
export async function startHttps(tls: https.ServerOptions, handler: Handler = answer204, port = 0): Promise<TestHttps> {
  const counts: Counts = { handshakes: 0, resumed: 0, requests: 0 };
  const server = https.createServer({ ...tls }, (req, res) => {
    counts.requests++;
    handler(req, res);
  });
  server.on('secureConnection', (s: TLSSocket) => {
    counts.handshakes++;
    if (s.isSessionReused()) counts.resumed++;
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  return {
    port: p,
    url: `https://localhost:${p}/api/client`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP server that does `onSocket` with each connection (e.g. close it, or answer in plain HTTP). */
export async function startTcp(onSocket: (s: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port that was just closed: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const s = await startTcp(() => {});
  await s.close();
  return s.port;
}

/** Resolves when `check` is true, polling; fails after `ms`. */
export async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
