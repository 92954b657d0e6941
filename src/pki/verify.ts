// Whether a certificate will work for its role: chain to the CA, validity
// window, algorithm strength, key usage and names. Every check is reported,
// each failure with its precise reason.

import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { certificateInfo, type CertificateInfo } from './inspect.ts';
import { emailProblem } from './names.ts';

export type Purpose = 'server' | 'client';

export interface VerifyOptions {
  /** Verify as a server certificate for this DNS name or IP address. */
  host?: string;
  /** Verify as a client certificate for this email address. */
  email?: string;
  /** The role when neither host nor email is given; inferred from extKeyUsage otherwise. */
  role?: Purpose;
  now?: Date;
}

export interface Check {
  name: 'chain' | 'ca' | 'validity' | 'strength' | 'usage' | 'names';
  ok: boolean;
  detail: string;
}

export interface VerifyResult {
  valid: boolean;
  role?: Purpose;
  /** The CA that issued it, when found. */
  issuer?: X509Certificate;
  checks: Check[];
  /** The failed checks' details, first failure first. */
  problems: string[];
}

const WEAK_HASH = /md2|md4|md5|sha-?1(?!\d)/i;

function strengthProblem(info: CertificateInfo, what: string): string | undefined {
  if (WEAK_HASH.test(info.signatureAlgorithm)) {
    return `${what} is signed with ${info.signatureAlgorithm}, which OpenSSL (security level 2) and browsers refuse`;
  }
  if (info.key.algorithm.startsWith('RSA') && (info.key.bits ?? 0) < 2048) {
    return `${what} has a ${info.key.bits}-bit RSA key; at least 2048 bits are required`;
  }
  return undefined;
}

function describeNames(info: CertificateInfo): string {
  const n = info.names;
  const all = [...n.dns.map((d) => `DNS:${d}`), ...n.ip.map((i) => `IP:${i}`), ...n.email.map((e) => `email:${e}`)];
  return all.length ? all.join(', ') : 'no subject alternative names';
}

function inferRole(info: CertificateInfo, opts: VerifyOptions): Purpose | undefined {
  if (opts.host !== undefined) return 'server';
  if (opts.email !== undefined) return 'client';
  if (opts.role) return opts.role;
  const server = info.extKeyUsage.includes('serverAuth');
  const client = info.extKeyUsage.includes('clientAuth');
  return server && !client ? 'server' : client && !server ? 'client' : undefined;
}

function chainCheck(cert: X509Certificate, info: CertificateInfo, cas: X509Certificate[]): { check: Check; issuer?: X509Certificate } {
  const named = cas.filter((ca) => certificateInfo(ca).subject === info.issuer);
  if (named.length === 0) {
    const have = cas.map((ca) => certificateInfo(ca).subject).join('; ');
    return { check: { name: 'chain', ok: false, detail: `issued by "${info.issuer}", but the CA file holds "${have}"` } };
  }
  const issuer = named.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (issuer) return { issuer, check: { name: 'chain', ok: true, detail: `issued and signed by "${info.issuer}"` } };
  const ca = named[0] as X509Certificate;
  const caKeyId = certificateInfo(ca).subjectKeyId;
  if (info.authorityKeyId && caKeyId && info.authorityKeyId !== caKeyId) {
    return {
      check: {
        name: 'chain',
        ok: false,
        detail: `its authority key identifier ${info.authorityKeyId} does not match the CA's subject key identifier ${caKeyId} (another CA with the same name?)`,
      },
    };
  }
  return { check: { name: 'chain', ok: false, detail: `its signature does not verify with the key of CA "${info.issuer}" (another CA with the same name?)` } };
}

function windowProblem(info: CertificateInfo, now: Date, what: string): string | undefined {
  if (info.status === 'expired') return `${what} expired on ${info.notAfter.toISOString()} (${-info.daysLeft} days ago)`;
  if (info.status === 'not yet valid') return `${what} is not valid before ${info.notBefore.toISOString()} (check the clock: it is ${now.toISOString()})`;
  return undefined;
}

function usageCheck(info: CertificateInfo, role: Purpose): Check {
  const eku = role === 'server' ? 'serverAuth' : 'clientAuth';
  if (info.isCa) return { name: 'usage', ok: false, detail: `it is a CA certificate, not a ${role} certificate` };
  if (info.extKeyUsage.length > 0 && !info.extKeyUsage.includes(eku) && !info.extKeyUsage.includes('anyExtendedKeyUsage')) {
    return { name: 'usage', ok: false, detail: `its extended key usage is ${info.extKeyUsage.join(', ')}, without ${eku}: TLS peers refuse it as a ${role} certificate` };
  }
  const needed = role === 'server' && info.key.algorithm === 'RSA' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  if (info.keyUsage.length > 0 && !needed.some((u) => info.keyUsage.includes(u as never))) {
    return { name: 'usage', ok: false, detail: `its key usage is ${info.keyUsage.join(', ')}, without digitalSignature` };
  }
  return { name: 'usage', ok: true, detail: `usable for TLS ${role} authentication` };
}

function namesCheck(cert: X509Certificate, info: CertificateInfo, role: Purpose, opts: VerifyOptions): Check {
  if (role === 'server') {
    if (opts.host === undefined) return { name: 'names', ok: true, detail: `for ${describeNames(info)} (give --host to check one)` };
    const host = opts.host.replace(/^\[(.*)\]$/, '$1');
    const match = isIP(host) ? cert.checkIP(host) : cert.checkHost(host);
    return match
      ? { name: 'names', ok: true, detail: `valid for ${host}` }
      : { name: 'names', ok: false, detail: `${host} is not among its names (${describeNames(info)})` };
  }
  const cn = info.commonName;
  if (opts.email !== undefined) {
    const ok = cn === opts.email || info.names.email.includes(opts.email);
    return ok
      ? { name: 'names', ok: true, detail: `identifies ${opts.email}` }
      : { name: 'names', ok: false, detail: `it identifies ${cn === undefined ? 'no CN' : `CN=${cn}`} (${describeNames(info)}), not ${opts.email}` };
  }
  if (cn === undefined) return { name: 'names', ok: false, detail: 'it has no CN: the server reads the user\'s email address from the CN' };
  return emailProblem(cn)
    ? { name: 'names', ok: false, detail: `its CN "${cn}" is not an email address: the server answers 400 to it` }
    : { name: 'names', ok: true, detail: `identifies ${cn}` };
}

/** Verifies `cert` against the CA certificates `cas` (a CA file may hold several). */
export function verifyCertificate(cert: X509Certificate, cas: X509Certificate[], opts: VerifyOptions = {}): VerifyResult {
  const now = opts.now ?? new Date();
  const info = certificateInfo(cert, now);
  const checks: Check[] = [];
  const { check, issuer } = chainCheck(cert, info, cas);
  checks.push(check);
  if (issuer) {
    const ca = certificateInfo(issuer, now);
    const problem =
      !ca.isCa || (ca.keyUsage.length > 0 && !ca.keyUsage.includes('keyCertSign'))
        ? `the CA "${ca.subject}" is not marked as a CA (basicConstraints CA:TRUE and keyCertSign)`
        : (windowProblem(ca, now, 'the CA certificate') ?? strengthProblem(ca, 'the CA certificate'));
    checks.push({ name: 'ca', ok: problem === undefined, detail: problem ?? `CA "${ca.subject}" valid until ${ca.notAfter.toISOString().slice(0, 10)}` });
  }
  const window = windowProblem(info, now, 'it');
  checks.push({
    name: 'validity',
    ok: window === undefined,
    detail: window ?? `valid from ${info.notBefore.toISOString()} to ${info.notAfter.toISOString()} (${info.daysLeft} days left)`,
  });
  const weak = strengthProblem(info, 'it');
  checks.push({ name: 'strength', ok: weak === undefined, detail: weak ?? `${info.key.label} key, ${info.signatureAlgorithm}` });
  const role = inferRole(info, opts);
  if (role) {
    checks.push(usageCheck(info, role));
    checks.push(namesCheck(cert, info, role, opts));
  }
  const problems = checks.filter((c) => !c.ok).map((c) => c.detail);
  return { valid: problems.length === 0, ...(role ? { role } : {}), ...(issuer ? { issuer } : {}), checks, problems };
}
