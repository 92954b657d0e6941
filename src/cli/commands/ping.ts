// `qtstatus ping`: the mTLS client that explains every failure (issue #5).
// This file reads flags, the environment and signals, and prints; the client
// itself is src/client, loaded only when the command runs.

import { Option, type Command } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import { VERSION } from '../../version.ts';
import type { PingClient } from '../../client/agent.ts';
import type { Credentials } from '../../client/credentials.ts';
import { DEFAULT_URL, parseTarget, type Target } from '../../client/target.ts';
import { parseDuration, parsePositiveInt } from '../options.ts';
import { colourFor, isInteractive } from '../style.ts';

interface PingOptions {
  /** false with --no-cert */
  cert: string | false;
  key: string;
  ca: string;
  passphraseFile?: string;
  insecure?: boolean;
  timeout: number;
  count?: number;
  concurrency?: number;
  newConnection?: boolean;
  interval?: number;
  json?: boolean;
}

const PASSPHRASE_ENV = 'QTSTATUS_KEY_PASSPHRASE';

interface Session {
  target: Target;
  credentials: Credentials;
  who: { url: string; identity?: string };
  /** The ping command: hints name its settings as the user gave them (../hints.ts). */
  command?: Command;
}

async function prepare(target: Target, opts: PingOptions, command?: Command): Promise<Session> {
  const err = colourFor(process.stderr, opts.json);
  const warn = (text: string) => process.stderr.write(err.yellow(`qtstatus ping: warning: ${text}`) + '\n');
  if (opts.insecure) {
    warn("--insecure: the server's certificate is not verified, so anyone on the way can pose as the server");
  }
  const { loadCredentials, expiryWarning } = await import('../../client/credentials.ts');
  const credentials = await loadCredentials({
    ...(opts.cert === false ? {} : { cert: opts.cert, key: opts.key }),
    ca: opts.ca,
    insecure: opts.insecure === true,
    passphrase: process.env[PASSPHRASE_ENV],
    passphraseFile: opts.passphraseFile,
    passphraseHint: `--passphrase-file FILE or the environment variable ${PASSPHRASE_ENV}`,
  });
  // A warning, not an error: the request goes on (issue #12).
  const expiring = credentials.client && expiryWarning(credentials.client);
  if (expiring) warn(`${expiring}; renew it where the CA is: qtstatus certs renew ${credentials.client?.certFile}`);
  return { target, credentials, who: { url: target.url, identity: credentials.identity }, command };
}

async function newClient(s: Session, opts: PingOptions, extra: { connections?: number; keepAliveMs?: number } = {}): Promise<PingClient> {
  const { createClient } = await import('../../client/agent.ts');
  return createClient({
    target: s.target,
    credentials: s.credentials,
    insecure: opts.insecure,
    timeoutMs: opts.timeout,
    newConnection: opts.newConnection,
    userAgent: `qtstatus/${VERSION}`,
    ...extra,
  });
}

async function pingOnce(s: Session, opts: PingOptions): Promise<void> {
  const [{ ping }, { answerFailure }, format] = await Promise.all([
    import('../../client/ping.ts'),
    import('../../client/diagnose.ts'),
    import('../format-ping.ts'),
  ]);
  const client = await newClient(s, opts);
  let result;
  let failure: unknown;
  try {
    result = await ping(client);
    failure = answerFailure(result, s);
  } catch (err) {
    failure = err;
  } finally {
    await client.destroy();
  }
  if (opts.json) process.stdout.write(format.pingJson(s.who, result, failure, s.command));
  else if (result && failure === undefined) process.stdout.write(format.pingLine(result, s.who, colourFor(process.stdout)));
  if (failure !== undefined) throw failure;
}

async function pingMany(s: Session, opts: PingOptions, count: number): Promise<void> {
  const [{ run }, format] = await Promise.all([import('../../client/run.ts'), import('../format-ping.ts')]);
  const concurrency = opts.concurrency ?? 1;
  const client = await newClient(s, opts, { connections: concurrency });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let spinner: { text: string; stop(): void } | undefined;
  if (isInteractive(process.stderr, opts.json)) {
    const { default: ora } = await import('ora');
    spinner = ora({ text: `0/${count}`, stream: process.stderr }).start();
  }
  let shown = 0;
  try {
    const summary = await run(client, {
      count,
      concurrency,
      signal: stop.signal,
      onProgress: (done, failed) => {
        const now = performance.now();
        if (spinner && (now - shown > 100 || done === count)) {
          shown = now;
          spinner.text = `${done}/${count}${failed ? `, ${failed} failed` : ''}`;
        }
      },
    });
    spinner?.stop();
    process.stdout.write(opts.json ? format.runJson(summary, s.who, s.command) : format.runText(summary, s.who, colourFor(process.stdout)));
    const main = summary.mainFailure;
    if (main) {
      throw new QtError(main.error.code, `${summary.failed} of ${summary.completed} requests failed; most often (${main.count}): ${main.error.message}`, {
        cause: main.error.cause,
        hint: main.error.hint,
        reason: main.error.reason,
        setting: main.error.setting,
        path: main.error.path,
        value: main.error.value,
        facts: main.error.facts,
      });
    }
  } finally {
    spinner?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client.destroy();
  }
}

async function beat(s: Session, opts: PingOptions, intervalMs: number): Promise<void> {
  const [{ heartbeat }, format] = await Promise.all([import('../../client/heartbeat.ts'), import('../format-ping.ts')]);
  // Keep the connection open across beats (the server's Keep-Alive may say less).
  const client = await newClient(s, opts, { keepAliveMs: intervalMs + 5000 });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', onSignal); // the reader went away (e.g. | head): stop
  const out = colourFor(process.stdout, opts.json);
  process.stderr.write(
    colourFor(process.stderr, opts.json).dim(`qtstatus ping: every ${format.duration(intervalMs)} to ${s.who.url} ${format.asWho(s.who)}; Ctrl-C to stop`) + '\n',
  );
  try {
    const summary = await heartbeat(client, {
      intervalMs,
      maxBackoffMs: Math.max(intervalMs, 30_000),
      signal: stop.signal,
      onBeat: opts.json ? (b) => process.stdout.write(format.beatJson(b, s.command)) : undefined,
      onChange: opts.json ? undefined : (ch) => process.stdout.write(format.changeLine(ch, out, s.command)),
    });
    process.stderr.write(format.heartbeatSummary(summary, opts.json === true));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onSignal);
    await client.destroy();
  }
}

function checkCombination(opts: PingOptions): void {
  const usage = (message: string, hint: string) => new QtError(ErrorCodes.USAGE, message, { hint });
  if (opts.interval !== undefined && opts.count !== undefined) {
    throw usage('--interval and --count do not go together', 'heartbeat mode runs until Ctrl-C; --count sends a fixed number at once');
  }
  if (opts.concurrency !== undefined && opts.count === undefined) {
    throw usage('--concurrency needs --count', 'e.g. --count 1000 --concurrency 10');
  }
  if (opts.interval !== undefined && opts.interval < 100) throw usage('--interval is below 100ms', 'a heartbeat every few seconds or minutes is plenty');
  if (opts.timeout < 1) throw usage('--timeout must be above 0', 'e.g. --timeout 10s');
}

export function registerPing(program: Command): void {
  program
    .command('ping')
    .summary('send a status update over mTLS and explain any failure')
    .description(
      'PATCH the status URL with a client certificate, as the old client did, and\n' +
        'print the answer with TLS details and timings (connect, TLS, first byte,\n' +
        'total). A failure says what happened and what to do: connection refused,\n' +
        'name not resolved, timeout, server certificate not signed by --ca, host\n' +
        "name not among the certificate's names, our certificate refused, key and\n" +
        'certificate not a pair, encrypted key without a passphrase, missing file,\n' +
        'expired client certificate.',
    )
    .argument('[url]', 'the status URL (no path means /api/client)', DEFAULT_URL)
    .option('--cert <file>', 'client certificate (PEM)', 'certs/client.crt')
    .option('--no-cert', 'present no client certificate (to see how the server refuses that)')
    .option('--key <file>', `client private key (PEM; passphrase from --passphrase-file or ${PASSPHRASE_ENV})`, 'certs/client.key')
    .option('--ca <file>', "CA certificate(s) that signed the server's certificate", 'certs/ca.crt')
    .option('--passphrase-file <file>', 'file whose first line is the passphrase of an encrypted key')
    .option('-k, --insecure', "do not verify the server's certificate (like curl -k; warns every time)")
    .addOption(new Option('-t, --timeout <duration>', 'to connect (DNS, TCP, TLS), and then for the answer').argParser(parseDuration).default(10_000, '10s'))
    .option('-n, --count <n>', 'send n requests and print a summary (requests/s, p50/p90/p99, statuses, errors)', parsePositiveInt)
    .option('-c, --concurrency <n>', 'with --count: requests in flight at once, one connection each', parsePositiveInt)
    .option('--new-connection', 'a new connection and full TLS handshake for every request, to measure handshakes')
    .option('-i, --interval <duration>', 'heartbeat: one request per interval until Ctrl-C or SIGTERM, printing changes of state', parseDuration)
    .option('--json', 'one JSON document (a ping or a run), or one JSON line per beat with --interval')
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus ping                                   defaults fit \`certs init\` and \`serve\`
  $ qtstatus ping https://status.example.org --cert alice.crt --key alice.key --ca ca.crt
  $ qtstatus ping --count 1000 --concurrency 10     throughput and latency percentiles
  $ qtstatus ping --count 100 --new-connection      cost of full TLS handshakes
  $ qtstatus ping --interval 30s                    stay "seen"; prints up/down changes
  $ qtstatus ping --json | jq .timingsMs

Exit codes:
  0  the server answered 204 (with --count: every request; with --interval: stopped by a signal)
  1  a local problem: a missing or unreadable file, a key that is not the certificate's,
     an encrypted key without its passphrase, an expired or not yet valid client certificate
  2  usage error
  3  the server could not be reached: connection refused or closed, name not resolved, timeout
  4  TLS: the server's certificate is not signed by --ca, not for this host name, or expired;
     or the port does not speak TLS
  5  the server refused our client certificate (TLS alert, reset, or its 400 answer)
  6  the server answered another HTTP status (403 user unknown, 429, 5xx …)
With --count, a failed run exits with the code of its most frequent failure.`,
    )
    .action(async (url: string, opts: PingOptions, command: Command) => {
      checkCombination(opts);
      const target = parseTarget(url);
      let session: Session;
      try {
        session = await prepare(target, opts, command);
      } catch (err) {
        // --json: a failure before any request is a document on stdout too.
        if (opts.json) process.stdout.write((await import('../format-ping.ts')).pingJson({ url: target.url }, undefined, err, command));
        throw err;
      }
      if (opts.interval !== undefined) await beat(session, opts, opts.interval);
      else if (opts.count !== undefined) await pingMany(session, opts, opts.count);
      else await pingOnce(session, opts);
    });
}
