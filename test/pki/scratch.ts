// What the src/pki tests share: a temp directory for the file, a fresh
// directory in it per test, and `certs init` there with the tests' defaults.
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { initCertificates, type InitOptions } from '../../src/pki/make.ts';
import { tempDir } from '../helpers/tls.ts';

export interface Scratch {
  /** The file's temp directory (set once beforeAll has run). */
  readonly root: string;
  /** A new directory name under root. */
  fresh(): string;
  /** A CA, a server and valid_user@qt-test.com in `dir`. */
  init(dir: string, more?: Partial<InitOptions>): ReturnType<typeof initCertificates>;
}

/** Registers beforeAll/afterAll for the calling file. */
export function caScratch(hosts: InitOptions['hosts'] = [{ kind: 'dns', value: 'localhost' }]): Scratch {
  let remove: () => Promise<void> = async () => {};
  let n = 0;
  const s = {
    root: '',
    fresh: () => join(s.root, `d${n++}`),
    init: (dir: string, more: Partial<InitOptions> = {}) =>
      initCertificates({ dir, hosts, clients: ['valid_user@qt-test.com'], days: 365, caDays: 3650, keyType: 'ecdsa-p256', force: false, ...more }),
  };
  beforeAll(async () => ({ dir: s.root, remove } = await tempDir()));
  afterAll(() => remove());
  return s;
}
