// Behind nginx (issues #4, #10): nginx verifies the client certificate
// (`ssl_verify_client on`) and forwards it whole, URL-escaped
// (`$ssl_client_escaped_cert`), with its verdict (`$ssl_client_verify`).
// The identity comes from that certificate through the same function as in
// direct TLS (./identity.ts), never from nginx's DN text: in
// `CN=attacker@x,O=x\,CN=valid_user@x` a regular expression finds the
// escaped CN (issue #10, defect 1; docs/security.md).
// The headers are believed only from --trust-proxy addresses; from anywhere
// else, or given twice, they are refused, so no client can claim an identity
// by header.

import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv6 } from 'node:net';
import { ErrorCodes, QtError } from '../errors.ts';
import { plainIp } from '../net/address.ts';
import { identityFromCertificate, identityFromCn, invalidCertificate, NO_CERTIFICATE, type Identity, type Refused } from './identity.ts';

export const CERT_HEADER = 'x-client-cert';
export const VERIFY_HEADER = 'x-client-verify';
/** The old system's header, believed only with `legacyCnHeader` (unsafe: docs/nginx.md). */
export const LEGACY_CN_HEADER = 'x-subject-cn';
export const PROXY_HEADERS = [CERT_HEADER, VERIFY_HEADER, LEGACY_CN_HEADER, 'x-subject-dn', 'x-real-ip', 'x-real-port', 'x-forwarded-for'] as const;

/** "10.0.0.5", "10.0.0.0/8" or "::1" → a BlockList that matches them. */
export function trustList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', bits] = entry.split('/');
    const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
    const max = family === 'ipv6' ? 128 : 32;
    const prefix = bits === undefined ? max : Number(bits);
    if (isIP(addr) === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
      throw new QtError(ErrorCodes.USAGE, `"${entry}" is not an address or CIDR`, { reason: 'bad_address', setting: 'trustProxy', subject: true, value: entry, hint: 'e.g. 127.0.0.1 or 10.0.0.0/8' });
    }
    list.addSubnet(addr, prefix, family);
  }
  return list;
}

export function isTrusted(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const mapped = plainIp(address);
  return list.check(mapped, isIPv6(mapped) ? 'ipv6' : 'ipv4');
}

export type ProxiedPeer = Identity & { ip?: string; port?: number };

const refuse = (code: string, message: string): Refused => ({ ok: false, code, message });

// OpenSSL's X509_verify_cert_error_string texts, as nginx puts them after
// "FAILED:" in $ssl_client_verify, back to the reason codes of direct TLS.
const NGINX_REASONS: Record<string, string> = {
  'certificate has expired': 'CERT_HAS_EXPIRED',
  'certificate is not yet valid': 'CERT_NOT_YET_VALID',
  'certificate revoked': 'CERT_REVOKED',
  'unable to get local issuer certificate': 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'unable to get issuer certificate': 'UNABLE_TO_GET_ISSUER_CERT',
  'unable to verify the first certificate': 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'self-signed certificate': 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'self signed certificate': 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'self-signed certificate in certificate chain': 'SELF_SIGNED_CERT_IN_CHAIN',
  'self signed certificate in certificate chain': 'SELF_SIGNED_CERT_IN_CHAIN',
  'unsupported certificate purpose': 'INVALID_PURPOSE',
  'certificate signature failure': 'CERT_SIGNATURE_FAILURE',
  'unable to get certificate CRL': 'UNABLE_TO_GET_CRL',
  'CRL has expired': 'CRL_HAS_EXPIRED',
  'CRL is not yet valid': 'CRL_NOT_YET_VALID',
  'EE certificate key too weak': 'EE_KEY_TOO_SMALL',
  'CA signature digest algorithm too weak': 'CA_MD_TOO_WEAK',
  'invalid CA certificate': 'INVALID_CA',
};

// Parsing a certificate costs tens of microseconds; a client sends the same
// one on every request.
const parsed = new Map<string, Identity>();
const PARSED_MAX = 4096;

function certificateIdentity(escaped: string): Identity {
  let id = parsed.get(escaped);
  if (id) return id;
  try {
    id = identityFromCertificate(new X509Certificate(decodeURIComponent(escaped)));
  } catch {
    id = refuse('bad_proxy_header', `${CERT_HEADER} is not a URL-escaped PEM certificate ($ssl_client_escaped_cert)`);
  }
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(escaped, id);
  return id;
}

/** The identity nginx vouches for: its verdict, then the certificate it verified. */
function verifiedByNginx(verify: string | undefined, cert: string | undefined): Identity {
  if (verify === undefined) {
    return cert === undefined ? NO_CERTIFICATE : refuse('bad_proxy_header', `${CERT_HEADER} without ${VERIFY_HEADER} ($ssl_client_verify)`);
  }
  if (verify === 'NONE') return NO_CERTIFICATE;
  if (verify.startsWith('FAILED:')) {
    const text = verify.slice('FAILED:'.length, 200);
    const reason = NGINX_REASONS[text];
    return reason ? invalidCertificate(reason) : invalidCertificate('UNSPECIFIED', text);
  }
  if (verify !== 'SUCCESS') return refuse('bad_proxy_header', `${VERIFY_HEADER} is not SUCCESS, NONE or FAILED:reason`);
  if (cert === undefined) return refuse('bad_proxy_header', `${VERIFY_HEADER} is SUCCESS but ${CERT_HEADER} is missing ($ssl_client_escaped_cert)`);
  return certificateIdentity(cert);
}

/** Counts CN attributes in an RFC 4514 DN: RDNs split at unescaped `,`, multi-valued ones at `+`. */
function cnCount(dn: string): number {
  return dn.split(/(?<!\\)[,+]/).filter((attr) => /^\s*CN=/i.test(attr)).length;
}

/**
 * An attribute value as nginx's `$ssl_client_s_dn` writes it (RFC 2253/4514
 * string form): `\+` and the like for special characters, `\C3\BC` for the
 * UTF-8 bytes of non-ASCII ones. `user\+tag@x` is the address user+tag@x.
 */
export function unescapeDnValue(text: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      for (const b of Buffer.from(text[i] as string)) bytes.push(b);
      continue;
    }
    const hex = /^[0-9a-fA-F]{2}/.exec(text.slice(i + 1, i + 3));
    if (hex) {
      bytes.push(parseInt(hex[0], 16));
      i += 2;
    } else if (i + 1 < text.length) {
      bytes.push(text.charCodeAt(++i) & 0xff);
    } else return undefined; // a trailing lone backslash
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/**
 * The old system's way (--legacy-cn-header): the CN cut out of nginx's DN
 * text by a `map`. Unsafe (docs/nginx.md): kept for a migration only.
 */
function legacyIdentity(cn: string | undefined, dn: string | undefined): Identity {
  if (cn === undefined || cn === '') return dn ? identityFromCn(undefined) : NO_CERTIFICATE;
  if (dn !== undefined && cnCount(dn) > 1) return identityFromCn([cn, cn]);
  // No validity window or serial to check: the DN text carries none.
  return identityFromCn(unescapeDnValue(cn) ?? null);
}

export interface ProxyOptions {
  trusted: BlockList;
  /** Believe X-Subject-CN when X-Client-Cert is absent (the old system's nginx map). */
  legacyCnHeader?: boolean;
}

export function identifyProxied(req: IncomingMessage, o: ProxyOptions): ProxiedPeer {
  const headers = req.headersDistinct;
  const present = PROXY_HEADERS.filter((h) => headers[h] !== undefined);
  if (!isTrusted(o.trusted, req.socket.remoteAddress)) {
    return present.length > 0
      ? refuse('untrusted_proxy_headers', `${present.join(', ')} accepted only from a trusted proxy`)
      : NO_CERTIFICATE;
  }
  const twice = present.find((h) => (headers[h]?.length ?? 0) > 1);
  if (twice) return refuse('duplicate_header', `${twice} given more than once`);
  const one = (h: string) => headers[h]?.[0];

  const cert = one(CERT_HEADER);
  const verify = one(VERIFY_HEADER);
  const identity =
    o.legacyCnHeader && cert === undefined && verify === undefined
      ? legacyIdentity(one(LEGACY_CN_HEADER), one('x-subject-dn'))
      : verifiedByNginx(verify, cert);
  if (!identity.ok) return identity;

  const ip = one('x-real-ip') ?? req.socket.remoteAddress ?? '';
  if (isIP(ip) === 0) return refuse('bad_proxy_header', 'x-real-ip is not an IP address');
  const portText = one('x-real-port');
  const port = portText === undefined ? 0 : Number(portText);
  if (portText !== undefined && (!/^\d{1,5}$/.test(portText) || port > 65535)) {
    return refuse('bad_proxy_header', 'x-real-port is not a port number');
  }
  return { ...identity, ip, port };
}
