// `qtstatus certs`: a private CA, server and client certificates, their whole
// lifecycle (record, revoke, CRL, renew, bundles, expiry checks), inspection,
// verification and PKCS#12 bundles (issues #3, #12). One thin file per
// subcommand; the work is in src/pki, imported when a subcommand runs, so
// other commands start no slower.

import type { Command } from 'commander';
import { registerBundle } from './bundle.ts';
import { registerCheck } from './check.ts';
import { registerClient } from './client.ts';
import { registerCrl } from './crl.ts';
import { registerInit } from './init.ts';
import { registerInspect } from './inspect.ts';
import { registerList } from './list.ts';
import { registerP12 } from './p12.ts';
import { registerRenew } from './renew.ts';
import { registerRevoke } from './revoke.ts';
import { registerServer } from './server.ts';
import { registerVerify } from './verify.ts';

export function registerCerts(program: Command): void {
  const certs = program
    .command('certs')
    .summary('a private CA, server and client certificates, revocation and renewal')
    .description(
      'Make a private CA and the server and client certificates of an mTLS setup, correct by default; list, revoke (with a CRL) and renew what the CA issued, bundle what a server or client needs without the CA key, check expiry; inspect and verify certificates; PKCS#12 (docs/certs.md).',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs init                                CA, server and client in ./certs
  $ qtstatus certs client alice@example.org            one more client from that CA
  $ qtstatus certs revoke alice@example.org            and a new certs/ca.crl
  $ qtstatus certs renew --expiring-within 30d
  $ qtstatus certs bundle server /tmp/srv              what the server needs, no CA key
  $ qtstatus certs verify certs/client.crt --ca certs/ca.crt --email valid_user@qt-test.com`,
    );
  for (const register of [registerInit, registerClient, registerServer, registerList, registerRevoke, registerCrl, registerRenew, registerBundle, registerCheck, registerInspect, registerVerify, registerP12]) {
    register(certs);
  }
}
