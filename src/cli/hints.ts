// The advice that names options and commands (issue #13). Lower layers
// report facts on a QtError (a `reason`, the `setting` it is about, the
// `path`, the `value`, other `facts`); the advice lives here, keyed by reason,
// and names each setting the way the user gave it for the command being run:
//
//   a flag           --port
//   the environment  QTSTATUS_LISTEN_PORT
//   a config file    port in /etc/qtstatus/listen.conf
//   not at all       --port (the flag)
//
// An error's own `hint` (plain advice that names no flag, variable or
// command) is used when there is no advice here for its reason; advice here
// replaces it (./report.ts).

import type { Command, Option } from 'commander';
import type { QtError } from '../errors.ts';

export type SettingSource = 'cli' | 'env' | 'config' | 'default';

export interface How {
  source: SettingSource;
  /** The setting as the user gave it: `--port`, `QTSTATUS_PORT`, `port in serve.conf`. */
  name: string;
  /** The setting with a value, ready to copy: `--port 9443`, `QTSTATUS_PORT=9443`, `port = 9443 in serve.conf`. */
  give(value: string): string;
}

const kebab = (attr: string) => attr.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

function optionOf(command: Command | undefined, setting: string): Option | undefined {
  const options = command?.options.filter((o) => o.attributeName() === setting) ?? [];
  return options.find((o) => !o.negate) ?? options[0];
}

/** How the user set `setting` (an option's attribute name) for `command`. */
export function how(command: Command | undefined, setting: string): How {
  const option = optionOf(command, setting);
  const flag = option?.long ?? `--${kebab(setting)}`;
  const raw = command?.getOptionValueSource(setting);
  const source: SettingSource = raw === 'env' ? 'env' : raw === 'config' ? 'config' : raw === 'cli' ? 'cli' : 'default';
  if (source === 'env' && option?.envVar) {
    const variable = option.envVar;
    return { source, name: variable, give: (v) => `${variable}=${v}` };
  }
  const file = command?.getOptionValue('config') as string | undefined;
  if (source === 'config' && file) {
    const key = flag.replace(/^--(no-)?/, '');
    return { source, name: `${key} in ${file}`, give: (v) => `${key} = ${v} in ${file}` };
  }
  return { source: source === 'cli' ? 'cli' : 'default', name: flag, give: (v) => `${flag} ${v}` };
}

type Name = (setting: string) => string;
/** `has(setting)`: whether the command being run has that option (advice names only options that exist, #13). */
type Advice = (e: QtError, name: Name, give: (setting: string, value: string) => string, has: (setting: string) => boolean) => string | undefined;

const str = (v: unknown, otherwise: string) => (typeof v === 'string' && v !== '' ? v : otherwise);
const asEmail = (v: unknown) => (typeof v === 'string' && v.includes('@') ? v : 'EMAIL');

/** Commands named in advice: only here. */
const CMD = {
  init: 'qtstatus certs init',
  client: (who: string) => `qtstatus certs client ${who}`,
  server: 'qtstatus certs server',
  serve: 'qtstatus serve',
  usersAdd: (who: string) => `qtstatus users add ${who}`,
};

const ADVICE: Record<string, Advice> = {
  // src/net and src/server: sockets
  // A UDP port (shared: qtstatus listeners share it with address reuse, but
  // not with a program that binds without it, such as the old Python
  // listener, whichever starts first, #10), or the server's TCP port.
  address_in_use: (e, name) => {
    if (!e.facts.shared) return `another program uses the port; stop it or pick another ${name('port')}`;
    const port = String(e.facts.port ?? e.value ?? 'PORT');
    return (
      `another program has UDP port ${port} without address reuse (the old Python listener does; \`ss -ulpn 'sport = :${port}'\` shows which): ` +
      `stop it, or listen on another ${name('port')}; several \`qtstatus listen\` share a port`
    );
  },
  port_privileged: (_e, name) => `ports below 1024 need privileges; pick a higher ${name('port')}`,
  listen_failed: (_e, name) => `check ${name('host')} and ${name('port')}`,
  multicast_join_failed: (_e, name) => `check that ${name('group')} is a multicast address and ${name('interface')} an address of this machine`,
  source_port_unavailable: (_e, name) => `pick another ${name('udpSourcePort')}, or 0 for any`,
  loopback_only: (_e, _name, give) => `QTSTATUS_LOOPBACK_ONLY is set: pass ${give('udpTarget', '127.0.0.1:PORT')}`,
  metrics_listen_failed: (_e, name) => `pick another ${name('metrics')} address`,
  // src/pki: the certificate directory and its files
  dir_is_file: (_e, name) => `choose another directory with ${name('dir')}`,
  dir_not_created: (_e, name) => `choose a directory you can write to with ${name('dir')}`,
  file_exists: (_e, name, _give, has) => {
    // Where else a file can go: --out where there is one (p12, whose --name
    // is the name importers show), else --dir and --name where they exist.
    const elsewhere = has('dir') ? ['dir', 'name'].filter(has) : has('out') ? ['out'] : [];
    const replace = has('force') ? `use ${name('force')} to replace it` : 'move it away to replace it';
    return `nothing was written; ${replace}${elsewhere.length ? `, or ${elsewhere.map(name).join(' or ')} to write elsewhere` : ''}`;
  },
  ca_exists: (_e, name) => `a CA is never replaced, not even with ${name('force')}; nothing was written`,
  partly_written: (e, name) => {
    const written = (e.facts.written as string[] | undefined) ?? [];
    return written.length ? `${written.join(', ')} were written; run again with ${name('force')}` : undefined;
  },
  ca_expired: () => `make a new CA: move ca.crt and ca.key away and run \`${CMD.init}\` (certificates it signed must be replaced too)`,
  key_unsupported: () => `qtstatus signs with RSA or ECDSA keys: make a CA with \`${CMD.init}\` in a new directory`,
  ca_key_unsupported: () => 'qtstatus signs with RSA or ECDSA CA keys',
  not_leaf_role: () => 'qtstatus renews certificates for serverAuth or for clientAuth',
  file_missing: () => `check the path; \`${CMD.init}\` makes ca.crt, server.crt and client.crt in ./certs`,
  key_mismatch: () => 'the key and the certificate must come from the same `qtstatus certs` run; give the matching pair',
  no_hosts: (_e, _name, give) => `e.g. ${give('host', 'localhost')} ${give('host', '127.0.0.1')}`,
  no_clients: (_e, _name, give) => `e.g. ${give('client', 'alice@example.org')}`,
  identity_not_email: (_e, name) => `give an email address; to test the server's 400 answer on purpose, add ${name('allowNonEmail')}`,
  bad_file_name: (_e, name, give) => `give a plain file name, e.g. ${give('name', 'alice')}; ${name('dir')} says where it goes`,
  would_be_ca_files: (_e, name) => `name them with ${name('name')} (any other plain file name)`,
  same_file_twice: (_e, name) => `give each client once, or name them with ${name('name')}`,
  ca_file_names: (_e, name) => `choose another ${name('name')}`,
  would_replace_ca: (_e, name) => `choose another ${name('name')} or ${name('dir')}; nothing was written`,
  // src/store: the database (`db` is --db, QTSTATUS_DB or db in the config file)
  db_no_schema: (_e, name) => `add users first with \`${CMD.usersAdd('EMAIL')}\`, which creates it, or give ${name('db')} the database the server uses`,
  db_password_refused: (_e, name) =>
    `check the password: in the URL of ${name('db')} (better in QTSTATUS_DB than on the command line), PGPASSWORD, or the password file (passfile= in the URL, PGPASSFILE, ~/.pgpass)`,
  db_no_password: (_e, name) =>
    `put it in the URL of ${name('db')} (better in QTSTATUS_DB than on the command line), PGPASSWORD, or a password file (passfile= in the URL, PGPASSFILE, ~/.pgpass)`,
  db_foreign_table: (_e, name) => `point ${name('db')} at a database of its own for qtstatus`,
  db_user_refused: (_e, name) => `check the user name in ${name('db')}`,
  db_missing: (e, name) => `create it (createdb ${str(e.facts.database, 'NAME')}) or fix the database name in ${name('db')}`,
  db_refused: (_e, name) => `is PostgreSQL running there? Check the host and port in ${name('db')}`,
  db_host_unresolved: (_e, name) => `check the host name in ${name('db')}`,
  db_read_only: (_e, name) => `name the primary in ${name('db')}, or every host: postgres://user@primary,standby/db`,
  db_no_slots: (_e, name, _give, has) => (has('workers') ? `raise max_connections, or run fewer ${name('workers')}` : 'raise max_connections, or run fewer servers on it'),
  // src/server: the TLS files
  tls_context_failed: (_e, name) => `check that ${name('cert')} and ${name('key')} are a pair and ${name('ca')} is a PEM CA certificate`,
  crl_unreadable: (_e, name) => `check ${name('crl')}`,
  crl_invalid: (_e, name) => `it must be a PEM or DER CRL signed by the CA given with ${name('ca')}`,
  // src/client: our own files
  passphrase_file_unreadable: (_e, name) => `check ${name('passphraseFile')}`,
  half_pair: (_e, name) => `give both ${name('cert')} and ${name('key')}`,
  client_cert_expired: (e) => `make a new one from the server's CA: ${CMD.client(str(e.facts.commonName, 'EMAIL'))}`,
  not_client_cert: (e) => `use a client certificate: ${CMD.client(asEmail(e.facts.commonName))}`,
  // src/client: what the server or the network said
  no_client_cert: (_e, name) => `we sent none, as --no-cert asks; give ${name('cert')} and ${name('key')}`,
  cert_refused: (e) => {
    const { identity, certFile, issuer } = e.facts as { identity?: string; certFile?: string; issuer?: string };
    switch (e.facts.why) {
      case undefined:
        return `does the server trust "${issuer}", the CA that signed ${certFile}? use a certificate from the server's CA, e.g. made with \`${CMD.client(str(identity, 'EMAIL'))}\` in its certs directory`;
      case 'expired_alert':
        return `the server says ${certFile} has expired: check the clocks, or make a new one: ${CMD.client(str(identity, 'EMAIL'))}`;
      case 'expired_answer':
        return `the server thinks ${certFile} has expired: compare the clocks, or make a new one: ${CMD.client(str(identity, 'EMAIL'))}`;
      case 'invalid_purpose':
        return `${certFile} is not for client authentication: use a client certificate (${CMD.client('EMAIL')})`;
      default:
        return undefined; // the error's own hint
    }
  },
  server_cert_expired: () => `the server needs a new certificate: ${CMD.server}`,
  server_untrusted: (_e, name) => `give ${name('ca')} the CA certificate that signed the server's certificate, e.g. the ca.crt that \`${CMD.init}\` made for the server`,
  name_mismatch: (e) => {
    const host = str(e.value, 'HOST');
    return `use one of those names in the URL, or give the server a certificate for ${host}: ${CMD.server} --host ${host}`;
  },
  not_tls: () => `is it a plain-HTTP port? give the HTTPS port in the URL, e.g. 8443 for \`${CMD.serve}\``,
  connect_timeout: (_e, name) => `the host may be down or a firewall drops the packets; ${name('timeout')} waits longer`,
  handshake_timeout: (_e, name) => `is this port a TLS server? ${name('timeout')} waits longer`,
  answer_timeout: (_e, name) => `the server is slow or stuck; ${name('timeout')} waits longer`,
  connection_refused: () => `nothing listens there: start the server (\`${CMD.serve}\`) or check the host and port in the URL`,
  // The server's settings are not the user's: named as flags.
  user_unknown: (e) => {
    const who = str(e.facts.identity, 'EMAIL');
    return `${who} is not registered there: run \`${CMD.usersAdd(who)}\` on the server, or start it with --auto-enroll`;
  },
  rate_limited: (e) => `the server limits requests per identity: try again ${e.facts.retryAfter === undefined ? 'later' : `in ${String(e.facts.retryAfter)} s`}, or raise its --rate-limit`,
  wrong_path: () => `check the URL's path: \`${CMD.serve}\` takes PATCH on /api/client`,
};

/** The advice for `err` when this file knows its reason; else undefined. */
export function adviceFor(err: QtError, command?: Command): string | undefined {
  const advice = err.reason === undefined ? undefined : ADVICE[err.reason];
  if (!advice) return undefined;
  return advice(
    err,
    (setting) => how(command, setting).name,
    (setting, value) => how(command, setting).give(value),
    // Without a command (a library caller, a test) every setting may be named.
    (setting) => command === undefined || optionOf(command, setting) !== undefined,
  );
}

/** The hint to print for `err`: the advice from here, else the error's own. */
export function hintFor(err: QtError, command?: Command): string | undefined {
  return adviceFor(err, command) ?? err.hint;
}

/** Whether this file has advice for `reason` (for tests). */
export function knowsReason(reason: string): boolean {
  return Object.hasOwn(ADVICE, reason);
}
