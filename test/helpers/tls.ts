// Real TLS peers for the certificate tests: a Node HTTPS server that requires
// client certificates, openssl, curl and Python's ssl module as child
// processes. Everything listens on and connects to 127.0.0.1 only.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export const hasPython = spawnSync('python3', ['-c', 'import ssl'], { stdio: 'ignore' }).status === 0;
export const hasCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking this process (a server may be running in it). */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {}); // a child that exits before reading its input (EPIPE) is judged by its exit code
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function openssl(...args: string[]): Promise<Ran> {
  return run('openssl', args);
}

/** A temporary directory, and a function that removes it. */
export async function tempDir(prefix = 'qtstatus-certs-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface MtlsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1 with `dir`'s server.crt/server.key that
 * requires a client certificate signed by ca.crt and answers with its CN.
 */
export async function startMtlsServer(dir: string, files = { cert: 'server.crt', key: 'server.key', ca: 'ca.crt' }): Promise<MtlsServer> {
  const [cert, key, ca] = await Promise.all([files.cert, files.key, files.ca].map((f) => readFile(join(dir, f))));
  const server: Server = createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ cn: peer.subject?.CN, san: peer.subjectaltname }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** curl with a client certificate; `host` is checked against the server's names. */
export function curlMtls(dir: string, port: number, host = 'localhost', client = 'client'): Promise<Ran> {
  const url = host.includes(':') ? `https://[${host}]:${port}/` : `https://${host}:${port}/`;
  return run('curl', [
    '-sS',
    '--max-time',
    '10',
    '--resolve',
    `localhost:${port}:127.0.0.1`,
    '--cacert',
    join(dir, 'ca.crt'),
    '--cert',
    join(dir, `${client}.crt`),
    '--key',
    join(dir, `${client}.key`),
    url,
  ]);
}

const PYTHON_BOTH_SIDES = `
import json, socket, ssl, sys, threading
d, host = sys.argv[1], sys.argv[2]
server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server.load_cert_chain(d + '/server.crt', d + '/server.key')
server.load_verify_locations(d + '/ca.crt')
server.verify_mode = ssl.CERT_REQUIRED
client = ssl.create_default_context(cafile=d + '/ca.crt')
client.load_cert_chain(d + '/client.crt', d + '/client.key')
listener = socket.create_server(('127.0.0.1', 0))
listener.settimeout(10)
port = listener.getsockname()[1]
result = {}
def serve():
    try:
        conn, _ = listener.accept()
        with server.wrap_socket(conn, server_side=True) as s:
            peer = s.getpeercert()
            result['client'] = dict(x[0] for x in peer['subject'])['commonName']
            result['clientSan'] = [list(x) for x in peer.get('subjectAltName', ())]
            s.sendall(b'ok')
    except Exception as e:
        result['serverError'] = repr(e)
t = threading.Thread(target=serve)
t.start()
try:
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        with client.wrap_socket(raw, server_hostname=host) as c:
            result['server'] = dict(x[0] for x in c.getpeercert()['subject'])['commonName']
            result['reply'] = c.recv(2).decode()
            result['version'] = c.version()
except Exception as e:
    result['clientError'] = repr(e)
t.join()
print(json.dumps(result))
`;

/** Python's ssl module as both the mTLS server and the client, over 127.0.0.1. */
export async function pythonBothSides(dir: string, host = 'localhost'): Promise<Record<string, unknown>> {
  const r = await run('python3', ['-c', PYTHON_BOTH_SIDES, dir, host]);
  if (r.code !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
