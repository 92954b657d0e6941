// The baseline for bench/serve.ts: a bare Node https server that requires a
// client certificate and answers 204, doing nothing else.
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [cert, key, ca] = process.argv.slice(2) as [string, string, string];
const server = https.createServer(
  { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 65_000 },
  (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  },
);
server.listen(0, '127.0.0.1', () => process.stderr.write(`serving https://127.0.0.1:${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => process.exit(0));
