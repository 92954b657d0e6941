// openssl as a reference peer for the lifecycle tests, without a stdin pipe
// (test/helpers/tls.ts's run() ends stdin of a child that may have exited:
// an EPIPE that vitest reports as an unhandled error).
import { spawn } from 'node:child_process';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function openssl(...args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** `openssl crl -verify`: the CRL's signature checked against the CA. */
export function crlVerifies(crl: string, ca: string): Promise<Ran> {
  return openssl('crl', '-in', crl, '-CAfile', ca, '-verify', '-noout');
}

/** `openssl verify -crl_check`: the certificate checked against the CA and its CRL. */
export function verifyWithCrl(cert: string, ca: string, crl: string): Promise<Ran> {
  return openssl('verify', '-crl_check', '-CRLfile', crl, '-CAfile', ca, cert);
}
