// `qtstatus certs init`: a CA (or the one in --dir), a server and client
// certificates in one step; for a new CA, once, which files go where.

import { basename } from 'node:path';
import type { Command } from 'commander';
import type { MadeSet } from '../../../pki/make.ts';
import { parseHost, type HostName } from '../../../pki/names.ts';
import { DEFAULT_CA_DAYS, DEFAULT_CLIENT, DEFAULT_HOSTS } from '../../../pki/profile.ts';
import { colourFor } from '../../style.ts';
import { addMakeOptions, leafOptions, type MakeFlags } from './make-options.ts';
import { parseDays, parseEmailFlag, parseHostFlag } from './options.ts';
import { reportMade, withSpinner } from './output.ts';

function nextSteps(set: MadeSet): string {
  const server = set.made.find((m) => m.role === 'server');
  const client = set.made.find((m) => m.role === 'client');
  const lines = [];
  const host = server?.certificate.subject.match(/CN=(.*)/)?.[1];
  if (server && host) lines.push(`qtstatus certs verify ${server.certPath} --ca ${set.ca.certPath} --host ${host}`);
  if (client) lines.push(`qtstatus certs p12 ${client.certPath}     (a bundle for browsers)`);
  return lines.length ? `next:\n${lines.map((l) => `  ${l}`).join('\n')}\n` : '';
}

/**
 * Said once, when the CA is new: the CA key must stay here, and what each
 * side gets (issue #12: copying the folder to a server copied the power to
 * mint identities).
 */
function whereFilesGo(set: MadeSet): string {
  const dir = set.dir;
  const server = set.made.find((m) => m.role === 'server');
  const client = set.made.find((m) => m.role === 'client');
  const base = (p: string | undefined) => (p === undefined ? undefined : basename(p));
  const pair = (m: MadeSet['made'][number] | undefined, role: string) => `${base(m?.certPath) ?? `${role}.crt`} ${base(m?.keyPath) ?? `${role}.key`}`;
  return [
    'which files go where (said once, for a new CA):',
    `  keep in ${dir}, copy nowhere: ca.key (it signs certificates: whoever has it can make any`,
    '    identity) and ca-index.json (what was issued); revoke, renew and crl need them',
    `  the server:  ${pair(server, 'server')} ca.crt ca.crl    qtstatus certs bundle server DIR`,
    `  a client:    ${pair(client, 'client')} ca.crt ca.crl    qtstatus certs bundle client DIR [--cert FILE]`,
    '  after a revoke, copy the new ca.crl to the server: serve --crl reloads it',
    '',
  ].join('\n');
}

export function registerInit(certs: Command): void {
  addMakeOptions(
    certs
      .command('init')
      .summary('a CA, a server and a client certificate in one step')
      .description(
        'Make a CA (or reuse the one in --dir), a server certificate and client certificates: ca.crt ca.key server.crt server.key client.crt client.key, keys 0600. An existing CA is never replaced; existing server and client files only with --force. A new CA also gets its record of issued certificates (ca-index.json) and a first, empty CRL (ca.crl).',
      )
      .option('-H, --host <name>', `server DNS name or IP address, repeatable (default ${DEFAULT_HOSTS.join(', ')})`, parseHostFlag)
      .option('-c, --client <email>', `client identity, repeatable: the first is client.crt, others <email>.crt (default ${DEFAULT_CLIENT})`, parseEmailFlag)
      .option('--ca-days <n>', 'validity of a new CA in days', parseDays, DEFAULT_CA_DAYS),
    false,
  )
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs init                                     RSA 2048 in ./certs for localhost
  $ qtstatus certs init --key-type ecdsa-p256 --dir tls
  $ qtstatus certs init --host status.internal --host 10.0.0.5 --client alice@example.org
  $ qtstatus certs init --force                             new leaves, same CA`,
    )
    .action(async (flags: MakeFlags & { host?: HostName[]; client?: string[]; caDays: number }) => {
      const { initCertificates } = await import('../../../pki/make.ts');
      const hosts = flags.host ?? DEFAULT_HOSTS.map((h) => (parseHost(h) as { host: HostName }).host);
      const set = await withSpinner('making keys and certificates', flags, () =>
        initCertificates({ ...leafOptions(flags), caDays: flags.caDays, hosts, clients: flags.client ?? [DEFAULT_CLIENT] }),
      );
      await reportMade(set, flags);
      if (flags.quiet || flags.json) return;
      const dim = colourFor(process.stderr).dim;
      if (!set.ca.reused) process.stderr.write(whereFilesGo(set));
      process.stderr.write(dim(nextSteps(set)));
    });
}
