// The flags of the commands that make certificates (init, client, server)
// and the src/pki options they become.

import { join } from 'node:path';
import type { Command } from 'commander';
import { KEY_TYPES, type KeyType } from '../../../pki/keys.ts';
import type { ExtraLeafOptions } from '../../../pki/make.ts';
import { DEFAULT_LEAF_DAYS } from '../../../pki/profile.ts';
import { DEFAULT_DIR, parseDays, parseKeyTypeFlag, parseNameFlag, type Quiet } from './options.ts';

export interface MakeFlags extends Quiet {
  dir: string;
  days: number;
  keyType?: KeyType;
  force?: boolean;
  ca?: string;
  caKey?: string;
  name?: string;
}

/** The pki options of the certificate-making flags. */
export function leafOptions(flags: MakeFlags): ExtraLeafOptions {
  const ca = flags.ca === undefined && flags.caKey === undefined ? undefined : { certPath: flags.ca ?? join(flags.dir, 'ca.crt'), keyPath: flags.caKey ?? join(flags.dir, 'ca.key') };
  return {
    dir: flags.dir,
    days: flags.days,
    force: flags.force === true,
    ...(flags.keyType ? { keyType: flags.keyType } : {}),
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(ca ? { ca } : {}),
  };
}

export function addMakeOptions(cmd: Command, extra: boolean): Command {
  cmd
    .option('-d, --dir <dir>', 'directory of the CA and the new files (created 0700)', DEFAULT_DIR)
    .option('--days <n>', 'validity of the new certificates in days', parseDays, DEFAULT_LEAF_DAYS)
    .option('-k, --key-type <type>', `key type: ${KEY_TYPES.join(', ')} (default rsa-2048, or the CA's type)`, parseKeyTypeFlag)
    .option('-f, --force', 'replace existing certificate and key files (never the CA)');
  if (extra) {
    cmd
      .option('--ca <file>', 'CA certificate (default <dir>/ca.crt)')
      .option('--ca-key <file>', 'CA private key (default <dir>/ca.key)')
      .option('-n, --name <base>', 'file name in --dir without .crt/.key (not a path, not ca)', parseNameFlag);
  }
  return cmd.option('--json', 'print what was made as JSON on stdout').option('-q, --quiet', 'no messages on stderr except warnings and errors');
}
