// Where `qtstatus ping` goes: an HTTPS URL. The default is where `qtstatus
// serve` listens out of the box; a URL without a path gets /api/client.

import { isIP } from 'node:net';
import { ErrorCodes, QtError } from '../errors.ts';

export const DEFAULT_URL = 'https://localhost:8443/api/client';
export const API_PATH = '/api/client';

export interface Target {
  /** The whole URL, e.g. https://localhost:8443/api/client. */
  url: string;
  /** https://host:port, what undici calls the origin. */
  origin: string;
  /** Path and query. */
  path: string;
  /** Host name or IP address, without brackets. */
  host: string;
  port: number;
  /** The name the server's certificate must carry; undefined for an IP address (no SNI). */
  servername: string | undefined;
}

/** "localhost:9000", "https://status.example" or a full URL → a Target; no path means /api/client. */
export function parseTarget(input: string): Target {
  const text = input.includes('://') ? input : `https://${input}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new QtError(ErrorCodes.USAGE, `"${input}" is not a URL`, { hint: `e.g. ${DEFAULT_URL}` });
  }
  if (url.protocol !== 'https:') {
    throw new QtError(ErrorCodes.USAGE, `"${input}" is not an https:// URL`, {
      hint: 'the status API needs TLS with a client certificate; use https://',
    });
  }
  if (url.username || url.password) {
    throw new QtError(ErrorCodes.USAGE, `"${input}" carries a user name or password`, { hint: 'the client certificate is the credential; leave them out' });
  }
  if (url.pathname === '/') url.pathname = API_PATH;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? 443 : Number(url.port);
  return {
    url: url.href,
    origin: url.origin,
    path: url.pathname + url.search,
    host,
    port,
    servername: isIP(host) === 0 ? host : undefined,
  };
}

