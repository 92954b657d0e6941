// Behind nginx (issue #4): nginx verifies the client certificate
// (`ssl_verify_client on`) and passes what it learned in headers. They are
// believed only from --trust-proxy addresses; from anywhere else, or given
// twice, they are refused, so no client can claim an identity by header.

import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv6 } from 'node:net';
import { ErrorCodes, QtError } from '../errors.ts';
import { plainIp } from '../net/address.ts';
import { identityFromCn, NO_CERTIFICATE, type Identity } from './identity.ts';

export const PROXY_HEADERS = ['x-subject-cn', 'x-subject-dn', 'x-real-ip', 'x-real-port', 'x-forwarded-for'] as const;

/** "10.0.0.5", "10.0.0.0/8" or "::1" → a BlockList that matches them. */
export function trustList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', bits] = entry.split('/');
    const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
    const max = family === 'ipv6' ? 128 : 32;
    const prefix = bits === undefined ? max : Number(bits);
    if (isIP(addr) === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
      throw new QtError(ErrorCodes.USAGE, `--trust-proxy "${entry}" is not an address or CIDR`, { hint: 'e.g. 127.0.0.1 or 10.0.0.0/8' });
    }
    list.addSubnet(addr, prefix, family);
  }
  return list;
}

function isTrusted(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const mapped = plainIp(address);
  return list.check(mapped, isIPv6(mapped) ? 'ipv6' : 'ipv4');
}

export type ProxiedPeer = Identity & { ip?: string; port?: number };

const refuse = (code: string, message: string): ProxiedPeer => ({ ok: false, code, message });

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

export function identifyProxied(req: IncomingMessage, trusted: BlockList): ProxiedPeer {
  const headers = req.headersDistinct;
  const present = PROXY_HEADERS.filter((h) => headers[h] !== undefined);
  if (!isTrusted(trusted, req.socket.remoteAddress)) {
    return present.length > 0
      ? refuse('untrusted_proxy_headers', `${present.join(', ')} accepted only from a trusted proxy`)
      : NO_CERTIFICATE;
  }
  const twice = present.find((h) => (headers[h]?.length ?? 0) > 1);
  if (twice) return refuse('duplicate_header', `${twice} given more than once`);
  const one = (h: string) => headers[h]?.[0];

  const cn = one('x-subject-cn');
  const dn = one('x-subject-dn');
  // nginx sends no header for an empty value: a DN without a CN is a
  // certificate whose CN is missing, not a missing certificate.
  if (cn === undefined || cn === '') return dn ? identityFromCn(undefined) : NO_CERTIFICATE;
  const identity = dn !== undefined && cnCount(dn) > 1 ? identityFromCn([cn, cn]) : identityFromCn(unescapeDnValue(cn));
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
