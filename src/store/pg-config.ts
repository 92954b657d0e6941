// A PostgreSQL connection string, read as libpq reads it
// (postgresql.org/docs/current/libpq-connect.html), into what the store
// needs: every host (a primary and its standbys: `postgres://u@h1,h2:5433/db`
// or `?host=h1,h2&port=…`), the user and database, where the password comes
// from (the URL, PGPASSWORD, or a password file: `?passfile=`, PGPASSFILE,
// ~/.pgpass), TLS (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`), and
// `connect_timeout`, `application_name`, `target_session_attrs`, `options`.
// The password never leaves this module but to the connection: `masked`
// shows the URL with `***` in its place.

import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, QtError } from '../errors.ts';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface PgHost {
  host: string;
  port: number;
}

export interface PgConfig {
  hosts: PgHost[];
  user: string;
  database: string;
  /** From the URL or PGPASSWORD; otherwise the password file is asked per host. */
  password: string | undefined;
  passfile: string | undefined;
  sslmode: SslMode;
  sslrootcert: string | undefined;
  sslcert: string | undefined;
  sslkey: string | undefined;
  /** libpq's connect_timeout, in ms; undefined when the URL gives none. */
  connectTimeoutMs: number | undefined;
  applicationName: string;
  /** `read-write` (a primary) or `any`. */
  targetSessionAttrs: 'any' | 'read-write' | 'primary';
  /** `-c name=value` settings from `options`. */
  settings: Record<string, string>;
  /** The URL for logs: hosts, user and database, never the password. */
  masked: string;
}

const usage = (what: string, hint?: string) =>
  new QtError(ErrorCodes.USAGE, `bad PostgreSQL URL: ${what}`, { reason: 'db_bad_url', setting: 'db', subject: true, hint: hint ?? 'the form is postgres://USER[:PASSWORD]@HOST[:PORT][,HOST[:PORT]…]/DATABASE[?sslmode=…]' });

const decode = (s: string, what: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    throw usage(`${what} is not valid percent-encoding`);
  }
};

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a socket directory (`/run/postgresql`). */
function splitHostPort(item: string): { host: string; port: string | undefined } {
  const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(item);
  if (bracket) return { host: bracket[1] as string, port: bracket[2] };
  if (item.includes(':') && !item.startsWith('/')) {
    const at = item.lastIndexOf(':');
    return { host: item.slice(0, at), port: item.slice(at + 1) };
  }
  return { host: item, port: undefined };
}

function parseHosts(list: string, ports: string | undefined): PgHost[] {
  const items = list.split(',');
  const portList = ports?.split(',').map((p) => p.trim());
  if (portList && portList.length !== 1 && portList.length !== items.length) {
    throw usage(`${portList.length} ports for ${items.length} hosts`, 'give one port for all hosts, or one per host in the same order');
  }
  return items.map((item, i) => {
    const split = splitHostPort(item);
    const port = split.port || portList?.[portList.length === 1 ? 0 : i] || '5432';
    const n = Number(port);
    if (!/^\d+$/.test(port) || n < 1 || n > 65535) throw usage(`the port of ${split.host || 'a host'} is not a port number: ${JSON.stringify(port)}`);
    return { host: decode(split.host, 'a host name') || 'localhost', port: n };
  });
}

/** Splits `options=-c a=b -c c=d` (also `--a=b`) into settings. */
function parseOptions(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  const words = text.trim().split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    const pair = w === '-c' ? words[++i] : w.startsWith('--') ? w.slice(2) : w.startsWith('-c') ? w.slice(2) : undefined;
    const m = pair === undefined ? null : /^([A-Za-z_][\w.]*)=(.*)$/.exec(pair);
    if (!m) throw usage(`cannot read options=${JSON.stringify(text)}`, 'options takes settings as -c name=value');
    settings[(m[1] as string).replace(/-/g, '_')] = m[2] as string;
  }
  return settings;
}

/** Reads a postgres:// or postgresql:// URL; `env` gives PGPASSWORD, PGPASSFILE, PGUSER, PGSSLMODE … as libpq would. */
export function parsePostgresUrl(url: string, env: Record<string, string | undefined> = {}): PgConfig {
  const m = /^(postgres(?:ql)?):\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?(?:#.*)?$/i.exec(url);
  if (!m) throw usage('not a postgres:// URL');
  const authority = m[2] as string;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hostlist = at >= 0 ? authority.slice(at + 1) : authority;
  const params = new URLSearchParams(m[4] ?? '');
  const known = new Set(['host', 'hostaddr', 'port', 'user', 'password', 'passfile', 'dbname', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'application_name', 'target_session_attrs', 'options']);
  for (const key of params.keys()) {
    if (!known.has(key)) throw usage(`unknown parameter ${JSON.stringify(key)}`, `qtstatus reads ${[...known].join(', ')}`);
  }
  let user: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    user = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'the user name') || undefined;
    if (colon >= 0) password = decode(userinfo.slice(colon + 1), 'the password');
  }
  user = params.get('user') ?? user ?? env.PGUSER ?? (env.USER || 'postgres');
  password = params.get('password') ?? password ?? env.PGPASSWORD;
  const hostParam = params.get('host') ?? params.get('hostaddr');
  // As libpq: ?host= replaces the URL's hosts but not their ports
  // (postgres://u@:5433/db?host=/run/postgresql is that directory's socket for port 5433).
  const authorityPorts = hostParam !== null && hostlist ? hostlist.split(',').map((item) => splitHostPort(item).port ?? '') : [];
  const portSpec = params.get('port') ?? (authorityPorts.some((p) => p !== '') ? authorityPorts.join(',') : undefined) ?? env.PGPORT;
  const hosts = parseHosts(hostParam ?? (hostlist || env.PGHOST || 'localhost'), portSpec);
  const path = m[3] ? decode(m[3].slice(1), 'the database name') : '';
  const database = params.get('dbname') ?? (path || env.PGDATABASE || user);
  const sslmode = (params.get('sslmode') ?? env.PGSSLMODE ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) throw usage(`sslmode=${sslmode} is not one of ${SSL_MODES.join(', ')}`);
  const sslrootcert = params.get('sslrootcert') ?? env.PGSSLROOTCERT;
  if (sslrootcert === undefined && (sslmode === 'verify-ca' || sslmode === 'verify-full')) {
    throw usage(`sslmode=${sslmode} needs the CA that signed the server's certificate`, 'add sslrootcert=/path/to/ca.crt to the URL');
  }
  const timeout = params.get('connect_timeout') ?? env.PGCONNECT_TIMEOUT;
  let connectTimeoutMs: number | undefined;
  if (timeout !== undefined && timeout !== '') {
    const s = Number(timeout);
    if (!Number.isFinite(s) || s < 0) throw usage(`connect_timeout=${timeout} is not a number of seconds`);
    // libpq: 0 waits forever, and less than 2 s counts as 2 s.
    connectTimeoutMs = s === 0 ? undefined : Math.max(2, s) * 1000;
  }
  const tsa = params.get('target_session_attrs') ?? env.PGTARGETSESSIONATTRS ?? 'read-write';
  if (tsa !== 'any' && tsa !== 'read-write' && tsa !== 'primary') {
    throw usage(`target_session_attrs=${tsa} is not supported`, 'the store writes: use read-write (the default here), primary or any');
  }
  const shownHosts = hosts.map((h) => (h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`)).join(',');
  return {
    hosts,
    user,
    database,
    password,
    passfile: params.get('passfile') ?? env.PGPASSFILE,
    sslmode,
    sslrootcert,
    sslcert: params.get('sslcert') ?? env.PGSSLCERT,
    sslkey: params.get('sslkey') ?? env.PGSSLKEY,
    connectTimeoutMs,
    applicationName: params.get('application_name') ?? env.PGAPPNAME ?? 'qtstatus',
    targetSessionAttrs: tsa,
    settings: parseOptions(params.get('options') ?? ''),
    masked: `postgres://${encodeURIComponent(user)}${password !== undefined && (userinfo?.includes(':') || params.has('password')) ? ':***' : ''}@${shownHosts}/${encodeURIComponent(database)}${sslmode !== 'prefer' ? `?sslmode=${sslmode}` : ''}`,
  };
}

/** Hides the password of any postgres:// URL in a text (for messages that quote one). */
export function maskPasswords(text: string): string {
  return text
    .replace(/(postgres(?:ql)?:\/\/[^:/?#@\s]*:)[^@\s]*@/gi, '$1***@')
    .replace(/([?&]password=)[^&\s]*/gi, '$1***');
}

/**
 * The password for one host from a password file (libpq's format: lines of
 * hostname:port:database:username:password, `*` matches anything, `\:` and
 * `\\` escape). Like libpq, a file that others may read is ignored.
 */
export function passwordFromFile(file: string | undefined, h: PgHost, database: string, user: string, home = homedir()): string | undefined {
  const path = file ?? join(home, '.pgpass');
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) return undefined;
    if ((st.mode & 0o077) !== 0) {
      throw new QtError(ErrorCodes.STORE, `the password file ${path} may be read by others, so it is not used`, { hint: `chmod 600 ${path}` });
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof QtError) throw err;
    if (file === undefined || (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // no password file: as libpq, fine
    throw new QtError(ErrorCodes.STORE, `cannot read the password file ${path}`, { cause: err, hint: 'check passfile= in the URL, or PGPASSFILE', setting: 'db' });
  }
  const host = h.host.startsWith('/') ? 'localhost' : h.host;
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const fields: string[] = [];
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i] as string;
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === ':' && fields.length < 4) {
        fields.push(cur);
        cur = '';
      } else cur += c;
    }
    fields.push(cur);
    if (fields.length < 5) continue;
    const [fh, fp, fd, fu, pw] = fields as [string, string, string, string, string];
    const match = (pattern: string, value: string) => pattern === '*' || pattern === value;
    if (match(fh, host) && match(fp, String(h.port)) && match(fd, database) && match(fu, user)) return pw;
  }
  return undefined;
}
