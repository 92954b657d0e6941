// `qtstatus certs bundle server|client DIR`: exactly what that side needs
// (its certificate and key, ca.crt, ca.crl), never the CA key.

import { basename, join } from 'node:path';
import { Argument, type Command } from 'commander';
import type { BundleRole } from '../../../pki/bundle.ts';
import { addCaOptions, caPathsFrom, type CaFlags, type Quiet } from './options.ts';
import { say, warn } from './output.ts';

interface BundleFlags extends CaFlags, Quiet {
  cert?: string;
  key?: string;
  force?: boolean;
}

export function registerBundle(certs: Command): void {
  addCaOptions(
    certs
      .command('bundle')
      .summary('the files a server or a client needs, without the CA key')
      .description(
        'Write to a new directory (0700) what one side needs, under the usual names: its certificate and key, the CA certificate and the CRL (issued first if there is none or it is past its next update). Never the CA key: copy the bundle, not the CA\'s directory.',
      )
      .addArgument(new Argument('<side>', 'server or client').choices(['server', 'client']))
      .argument('<out>', 'the directory to write'),
  )
    .option('--cert <file>', 'the certificate (default <dir>/server.crt or <dir>/client.crt)')
    .option('--key <file>', 'its key (default: the certificate\'s name with .key)')
    .option('-f, --force', 'replace files already in the output directory')
    .option('--json', 'the files written, as JSON on stdout')
    .option('-q, --quiet', 'no messages on stderr except warnings and errors')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus certs bundle server /tmp/status-server && scp -r /tmp/status-server host:/etc/qtstatus
  $ qtstatus certs bundle client /tmp/alice --cert certs/alice@example.org.crt
  $ qtstatus serve --cert /etc/qtstatus/server.crt --key /etc/qtstatus/server.key --ca /etc/qtstatus/ca.crt --crl /etc/qtstatus/ca.crl`,
    )
    .action(async (side: BundleRole, out: string, flags: BundleFlags) => {
      const { writeBundle } = await import('../../../pki/bundle.ts');
      const b = await writeBundle({
        role: side,
        ca: caPathsFrom(flags),
        certPath: flags.cert ?? join(flags.dir, `${side}.crt`),
        ...(flags.key !== undefined ? { keyPath: flags.key } : {}),
        out,
        force: flags.force === true,
      });
      if (flags.json) process.stdout.write(JSON.stringify({ dir: b.dir, files: b.files, crlIssued: b.crlIssued, warnings: b.warnings }) + '\n');
      for (const w of b.warnings) warn(flags, w);
      const f = b.files;
      if (b.crlIssued) say(flags, `issued a new CRL first (there was none that is current)`);
      say(flags, `wrote ${b.dir}: ${[f.cert, f.key, f.ca, f.crl].map((p) => basename(p)).join(' ')} (not the CA key)`);
      say(
        flags,
        side === 'server'
          ? `on the server: qtstatus serve --cert ${f.cert} --key ${f.key} --ca ${f.ca} --crl ${f.crl}   (paths as copied there)`
          : `on the client: qtstatus ping --cert ${f.cert} --key ${f.key} --ca ${f.ca}   (paths as copied there)`,
      );
    });
}
