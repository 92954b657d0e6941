// The certificate sets of `qtstatus certs init`, `certs client` and
// `certs server`: which files, from which CA, checked before any key is made,
// written all at once (./files.ts), each new certificate in the CA's record
// (./record.ts) in the same step.

import type { KeyObject, X509Certificate } from 'node:crypto';
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';
import { assertCanWrite, CERT_MODE, ensureDirectory, KEY_MODE, writeFilesAtomically, type OutFile } from './files.ts';
import { loadForge } from './forge.ts';
import { caPathsIn, loadCa, type CaPaths, type LoadedCa } from './ca.ts';
import { nextCrl } from './crl-issue.ts';
import { issueCertificate, type Issuer } from './issue.ts';
import { DEFAULT_KEY_TYPE, generateKeyPair, keyTypeOf, privateKeyPem, type KeyPair, type KeyType } from './keys.ts';
import { emailProblem, fileBaseName, fileNameProblem, isCaBaseName, type HostName } from './names.ts';
import { keyIdentifier } from './parse.ts';
import { APPLE_SERVER_MAX_DAYS, assertDays, type Role } from './profile.ts';
import { addToRecord, emptyRecord, entryFor, readRecord, recordFile, recordPathsFor, withRecordLock, type CaRecord, type RecordPaths } from './record.ts';

export { caPathsIn, loadCa, type CaPaths, type LoadedCa } from './ca.ts';

export interface Made {
  role: Role;
  certPath: string;
  keyPath: string;
  certificate: X509Certificate;
  /** True for a CA found in the directory and used as it was. */
  reused?: boolean;
}

export interface MadeSet {
  dir: string;
  ca: Made;
  made: Made[];
  warnings: string[];
  /** The record the new certificates were added to. */
  record: string;
  /** The first CRL, written with a new CA. */
  crl?: string;
}

interface LeafSpec {
  role: 'server' | 'client';
  /** File name without .crt/.key. */
  base: string;
  commonName: string;
  hosts?: HostName[];
  email?: string;
}

export interface LeafOptions {
  dir: string;
  days: number;
  /** Defaults to the CA key's type when it is one of ours, else RSA 2048. */
  keyType?: KeyType;
  force: boolean;
  now?: Date;
}

function checkHosts(hosts: HostName[]): HostName[] {
  if (hosts.length === 0) throw new QtError(ErrorCodes.USAGE, 'a server certificate needs at least one name', { reason: 'no_hosts', setting: 'host', subject: true });
  const seen = new Set<string>();
  return hosts.filter((h) => !seen.has(h.value) && seen.add(h.value));
}

function clientSpec(identity: string, baseName: () => string, allowNonEmail: boolean, warnings: string[]): LeafSpec {
  const problem = emailProblem(identity);
  if (problem && !allowNonEmail) {
    throw new QtError(ErrorCodes.USAGE, `client identity ${problem}`, {
      reason: 'identity_not_email',
      setting: 'allowNonEmail',
      value: identity,
    });
  }
  const base = baseName();
  if (problem) warnings.push(`${base}.crt has CN=${identity}, not an email address: the server answers 400 to it (meant for tests)`);
  return { role: 'client', base, commonName: identity, ...(problem ? {} : { email: identity }) };
}

function serverSpec(hosts: HostName[], base: string, days: number, warnings: string[]): LeafSpec {
  const names = checkHosts(hosts);
  if (days > APPLE_SERVER_MAX_DAYS) warnings.push(`${base}.crt is valid for ${days} days: macOS and iOS refuse server certificates valid for more than ${APPLE_SERVER_MAX_DAYS}`);
  return { role: 'server', base, commonName: (names[0] as HostName).value, hosts: names };
}

/**
 * The base name of a leaf's files: `--name` as given, or one made from the
 * identity or host. Either way a plain file name in the directory and never
 * the CA's (issue #10: `--name ./ca --force` replaced the CA).
 */
function leafBase(name: string | undefined, derivedFrom: string): string {
  if (name !== undefined) {
    const problem = fileNameProblem(name);
    if (problem) throw new QtError(ErrorCodes.USAGE, problem, { reason: 'bad_file_name', setting: 'name', subject: true, value: name });
    return name;
  }
  const base = fileBaseName(derivedFrom);
  if (isCaBaseName(base)) {
    throw new QtError(ErrorCodes.USAGE, `the files for "${derivedFrom}" would be ${base}.crt and ${base}.key, the CA's files`, {
      reason: 'would_be_ca_files',
      setting: 'name',
      value: base,
    });
  }
  return base;
}

/** A path as the file system would find it: the directory's real path, the name in lower case (case-insensitive file systems). */
async function pathKey(path: string): Promise<string> {
  const dir = await realpath(dirname(path)).catch(() => resolve(dirname(path)));
  return join(dir, basename(path)).toLowerCase();
}

function leafPaths(dir: string, base: string): { certPath: string; keyPath: string } {
  return { certPath: join(dir, `${base}.crt`), keyPath: join(dir, `${base}.key`) };
}

async function issueLeaves(ca: Issuer, specs: LeafSpec[], keys: Array<Promise<KeyPair>>, opts: LeafOptions, warnings: string[]) {
  const files: OutFile[] = [];
  const made: Made[] = [];
  for (const [i, spec] of specs.entries()) {
    const key = await (keys[i] as Promise<KeyPair>);
    const issued = await issueCertificate({ ...spec, publicKey: key.publicKey, days: opts.days, issuer: ca, now: opts.now });
    warnings.push(...issued.warnings.map((w) => `${spec.base}.crt: ${w}`));
    const paths = leafPaths(opts.dir, spec.base);
    files.push({ path: paths.certPath, data: issued.pem, mode: CERT_MODE }, { path: paths.keyPath, data: privateKeyPem(key.privateKey), mode: KEY_MODE });
    made.push({ role: spec.role, ...paths, certificate: issued.certificate });
  }
  return { files, made };
}

/** Checks the leaves' files can be written before any key is made. */
async function prepare(specs: LeafSpec[], opts: LeafOptions, ca: CaPaths): Promise<string | undefined> {
  assertDays(opts.days, 'days');
  // Case-insensitive: on macOS and Windows Bob@x.crt and bob@x.crt are one file.
  const bases = specs.map((s) => s.base.toLowerCase());
  const twice = specs.find((_s, i) => bases.indexOf(bases[i] as string) !== i)?.base;
  if (twice) throw new QtError(ErrorCodes.USAGE, `two certificates would both be written to ${twice}.crt`, { reason: 'same_file_twice', setting: 'name', value: twice });
  if (bases.some(isCaBaseName)) throw new QtError(ErrorCodes.USAGE, 'ca.crt and ca.key are the CA\'s files', { reason: 'ca_file_names', setting: 'name' });
  const dir = await ensureDirectory(opts.dir);
  const paths = specs.flatMap((s) => Object.values(leafPaths(opts.dir, s.base)));
  // The CA in use may have any name (--ca, --ca-key): no leaf replaces it (#10).
  const caKeys = new Set(await Promise.all([ca.certPath, ca.keyPath].map(pathKey)));
  for (const p of paths) {
    if (caKeys.has(await pathKey(p))) {
      throw new QtError(ErrorCodes.USAGE, `${p} would replace the CA's ${p.endsWith('.key') ? 'key' : 'certificate'}`, {
        reason: 'would_replace_ca',
        setting: 'name',
        path: p,
      });
    }
  }
  await assertCanWrite(paths, opts.force);
  return dir.warning;
}

/**
 * Whether the directory has a CA: both files, or neither; one alone is an
 * error. A name that is there counts even when it cannot be read (a dangling
 * link): loading it then says why, and no new CA replaces it (#10).
 */
async function hasCa(paths: CaPaths): Promise<boolean> {
  const [cert, key] = await Promise.all([paths.certPath, paths.keyPath].map((p) => lstat(p).then(() => true, () => false)));
  if (cert !== key) {
    const [have, missing] = cert ? [paths.certPath, paths.keyPath] : [paths.keyPath, paths.certPath];
    throw new QtError(ErrorCodes.CERT, `${missing} is missing beside ${have}`, {
      hint: `restore it, or move ${have} away to make a new CA (certificates the old CA signed stop working); nothing was written`,
    });
  }
  return cert === true;
}

export interface InitOptions extends LeafOptions {
  hosts: HostName[];
  /** Client identities; the first is written as client.crt, the others by name. */
  clients: string[];
  caDays: number;
}

/**
 * A CA (reused when the directory has one), a server and client
 * certificates. The CA is never replaced; leaves only with `force`.
 */
export async function initCertificates(opts: InitOptions): Promise<MadeSet> {
  const warnings: string[] = [];
  assertDays(opts.caDays, 'caDays');
  if (opts.clients.length === 0) throw new QtError(ErrorCodes.USAGE, 'at least one client is needed', { reason: 'no_clients', setting: 'client', subject: true });
  const specs = [
    serverSpec(opts.hosts, 'server', opts.days, warnings),
    ...opts.clients.map((id, i) => clientSpec(id, () => (i === 0 ? 'client' : fileBaseName(id)), false, warnings)),
  ];
  const caPaths = caPathsIn(opts.dir);
  await hasCa(caPaths); // one CA file without the other: say so before anything else
  const dirWarning = await prepare(specs, opts, caPaths);
  if (dirWarning) warnings.push(dirWarning);
  const paths = recordPathsFor(caPaths.certPath);
  return withRecordLock(paths, async () => {
    // Under the lock: a CA another run made meanwhile is reused, not replaced.
    const reused = (await hasCa(caPaths)) ? await loadCa(caPaths, opts.now) : undefined;
    let record = reused ? ((await readRecord(paths.record, reused.certificate)) ?? emptyRecord(reused.certificate)) : undefined;
    if (!reused) await assertNoOldRecord(paths);

    // Every key at once on the thread pool, while forge loads.
    const keyType = opts.keyType ?? (reused && keyTypeOf(reused.privateKey)) ?? DEFAULT_KEY_TYPE;
    const caKey = reused ? undefined : generateKeyPair(keyType);
    const keys = specs.map(() => generateKeyPair(keyType));
    await loadForge();
    let ca: LoadedCa;
    const files: OutFile[] = [];
    let crl: string | undefined;
    if (reused) ca = reused;
    else {
      const key = await (caKey as Promise<KeyPair>);
      const issued = await issueCertificate({
        role: 'ca',
        publicKey: key.publicKey,
        selfKey: key.privateKey,
        commonName: caCommonName(key.publicKey),
        days: opts.caDays,
        now: opts.now,
      });
      ca = { ...caPaths, certificate: issued.certificate, privateKey: key.privateKey };
      record = emptyRecord(issued.certificate);
      // A new CA comes with its first CRL, so `serve --crl ca.crl` works from
      // the start and a later revocation only replaces the file.
      const first = await nextCrl(ca, record, paths, { now: opts.now });
      crl = paths.crl;
      files.push(
        { path: caPaths.certPath, data: issued.pem, mode: CERT_MODE, noReplace: true },
        { path: caPaths.keyPath, data: privateKeyPem(key.privateKey), mode: KEY_MODE, noReplace: true },
        { ...first.file, replace: false, noReplace: true },
      );
    }
    const leaves = await issueLeaves(ca, specs, keys, opts, warnings);
    const recordOut = withLeaves(record as CaRecord, paths, leaves.made, opts.now);
    await writeFilesAtomically([...files, ...leaves.files, reused ? recordOut : { ...recordOut, replace: false, noReplace: true }], { force: opts.force });
    return {
      dir: opts.dir,
      ca: { role: 'ca', certPath: ca.certPath, keyPath: ca.keyPath, certificate: ca.certificate, reused: reused !== undefined },
      made: leaves.made,
      warnings,
      record: paths.record,
      ...(crl ? { crl } : {}),
    };
  });
}

/** Adds the new leaves to the record and returns it as a file to write with them. */
function withLeaves(record: CaRecord, paths: RecordPaths, made: Made[], now = new Date()): OutFile {
  addToRecord(record, made.map((m) => entryFor(paths, m.certificate, m, 'issued', now)));
  return recordFile(record, paths.record);
}

/**
 * A new CA must not inherit the record or CRL of one that was moved away:
 * writing over them would lose what that CA issued and revoked.
 */
async function assertNoOldRecord(paths: RecordPaths): Promise<void> {
  for (const path of [paths.record, paths.crl]) {
    if (await lstat(path).then(() => true, () => false)) {
      throw new QtError(ErrorCodes.FILE, `${path} is left from another CA`, {
        cause: 'there is no CA certificate beside it',
        hint: 'move it away with that CA\'s ca.crt and ca.key, or make the new CA in another directory; nothing was written',
      });
    }
  }
}

/** "qtstatus CA 5b5b539f": a name that tells two CAs apart. */
function caCommonName(publicKey: KeyObject): string {
  return `qtstatus CA ${keyIdentifier(publicKey.export({ type: 'spki', format: 'der' })).toString('hex').slice(0, 8)}`;
}

export interface ExtraLeafOptions extends LeafOptions {
  /** Defaults to ca.crt and ca.key in `dir`. */
  ca?: CaPaths;
  /** File base name; defaults to one made from the identity or first host. */
  name?: string;
}

async function makeLeaf(spec: LeafSpec, opts: ExtraLeafOptions, warnings: string[]): Promise<MadeSet> {
  const ca = await loadCa(opts.ca ?? caPathsIn(opts.dir), opts.now);
  const paths = recordPathsFor(ca.certPath);
  return withRecordLock(paths, async () => {
    const record = (await readRecord(paths.record, ca.certificate)) ?? emptyRecord(ca.certificate);
    const dirWarning = await prepare([spec], opts, ca);
    if (dirWarning) warnings.push(dirWarning);
    const keyType = opts.keyType ?? keyTypeOf(ca.privateKey) ?? DEFAULT_KEY_TYPE;
    const leaves = await issueLeaves(ca, [spec], [generateKeyPair(keyType)], opts, warnings);
    await writeFilesAtomically([...leaves.files, withLeaves(record, paths, leaves.made, opts.now)], { force: opts.force });
    return {
      dir: opts.dir,
      ca: { role: 'ca', certPath: ca.certPath, keyPath: ca.keyPath, certificate: ca.certificate, reused: true },
      made: leaves.made,
      warnings,
      record: paths.record,
    };
  });
}

/** One more client certificate from an existing CA. */
export async function makeClient(opts: ExtraLeafOptions & { identity: string; allowNonEmail?: boolean }): Promise<MadeSet> {
  const warnings: string[] = [];
  const spec = clientSpec(opts.identity, () => leafBase(opts.name, opts.identity), opts.allowNonEmail === true, warnings);
  return makeLeaf(spec, opts, warnings);
}

/** One more server certificate from an existing CA. */
export async function makeServer(opts: ExtraLeafOptions & { hosts: HostName[] }): Promise<MadeSet> {
  const warnings: string[] = [];
  const spec = serverSpec(opts.hosts, leafBase(opts.name, checkHosts(opts.hosts)[0]?.value ?? 'server'), opts.days, warnings);
  return makeLeaf(spec, opts, warnings);
}
