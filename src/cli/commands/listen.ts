// `qtstatus listen`: receive, decode and print status packets (issue #2).

import type { Command } from 'commander';
import { ErrorCodes, QtError } from '../../errors.ts';
import { decode, type RejectReason } from '../../protocol/packet.ts';
import { DEFAULT_RECV_BUFFER, openReceiver, type Receiver } from '../../net/udp-receiver.ts';
import { BatchWriter } from '../batch-writer.ts';
import { hostPort } from '../../net/address.ts';
import { formatHuman, formatJson, type DatagramEvent } from '../format-packet.ts';
import { durationOption, parseIp, parsePort, parsePositiveInt, sizeOption } from '../options.ts';
import { colourFor } from '../style.ts';

export interface ListenOptions {
  host: string;
  port: number;
  group?: string;
  interface?: string;
  json?: boolean;
  count?: number;
  timeout?: number;
  verbose?: boolean;
  quiet?: boolean;
  rcvbuf: number;
}

export interface ListenSummary {
  received: number;
  decoded: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectReason, number>>;
  /** Lines not printed: stdout could not keep up, or had not taken them at the end. */
  dropped: number;
  seconds: number;
  packetsPerSecond: number;
}

export interface Listening {
  receiver: Receiver;
  /** Resolves when --count or --timeout is reached or stop() is called. */
  done: Promise<ListenSummary>;
  stop(): void;
  /**
   * After `done`: true when stdout still holds lines nobody reads, a write
   * that keeps the process alive until the reader goes away (#10).
   */
  readonly outputStuck: boolean;
}

/** How long a reader that takes nothing more is waited for at the end (#10). */
export const OUTPUT_GRACE_MS = 1000;

/** Binds and starts printing; the caller decides when to stop. */
export async function startListening(opts: ListenOptions, out: NodeJS.WriteStream = process.stdout): Promise<Listening> {
  const colour = colourFor(out, opts.json);
  const writer = new BatchWriter(out);
  const byReason: Partial<Record<RejectReason, number>> = {};
  let received = 0;
  let decoded = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const receiver = await openReceiver(
    { host: opts.host, port: opts.port, group: opts.group, iface: opts.interface, recvBufferSize: opts.rcvbuf },
    (msg, rinfo) => {
      if (opts.count !== undefined && received >= opts.count) return;
      received++;
      const from = { address: rinfo.address, port: rinfo.port };
      const result = decode(msg);
      let ev: DatagramEvent;
      if (result.ok) {
        decoded++;
        ev = { kind: 'status', from, size: msg.length, receivedAt: Date.now(), packet: result.packet };
      } else {
        byReason[result.reason] = (byReason[result.reason] ?? 0) + 1;
        ev = { kind: 'rejected', from, size: msg.length, receivedAt: Date.now(), reason: result.reason, message: result.message, bytes: msg };
      }
      writer.write(opts.json ? formatJson(ev) : formatHuman(ev, colour, opts.verbose === true));
      if (received === opts.count) finish();
    },
  ); // a port another program holds: the advice is ../hints.ts's address_in_use
  const started = performance.now();
  const timer = opts.timeout !== undefined ? setTimeout(finish, opts.timeout) : undefined;
  out.on('error', () => finish()); // the reader went away: nothing more to show

  const done = finished.then(async () => {
    const seconds = (performance.now() - started) / 1000; // the time listened, not the wait for the reader
    if (timer) clearTimeout(timer);
    await receiver.close();
    await writer.end(OUTPUT_GRACE_MS);
    return {
      received,
      decoded,
      rejected: received - decoded,
      rejectedByReason: byReason,
      dropped: writer.dropped,
      seconds,
      packetsPerSecond: seconds > 0 ? received / seconds : 0,
    };
  });
  return {
    receiver,
    done,
    stop: finish,
    get outputStuck() {
      return writer.stuck;
    },
  };
}

export function formatSummary(s: ListenSummary, json: boolean): string {
  if (json) return JSON.stringify({ type: 'summary', ...s }) + '\n';
  const reasons = Object.entries(s.rejectedByReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  return (
    `received ${s.received}, decoded ${s.decoded}, rejected ${s.rejected}${reasons ? ` (${reasons})` : ''}, ` +
    `dropped ${s.dropped}; ${s.packetsPerSecond.toFixed(1)} packets/s over ${s.seconds.toFixed(1)} s\n`
  );
}

export function registerListen(program: Command): void {
  program
    .command('listen')
    .summary('receive and decode status packets')
    .description(
      'Receive status packets (wire format v0) on a UDP port, decode them and print each one. Malformed packets are reported with the reason and never stop the listener. Ends with a summary on stderr at Ctrl-C, SIGTERM, --count or --timeout.',
    )
    .option('--config <file>', 'settings from this file: `name = value` lines, as the long options')
    .option('-p, --port <port>', 'UDP port to listen on', parsePort, 6667)
    .option('-H, --host <addr>', 'local address to bind (:: for IPv6 and IPv4)', '0.0.0.0')
    .option('-g, --group <addr>', 'join this multicast group', parseIp)
    .option('-i, --interface <addr>', 'local interface address for --group', parseIp)
    .option('--json', 'one JSON object per line for every packet')
    .option('-n, --count <n>', 'stop after n packets', parsePositiveInt)
    .addOption(durationOption('-t, --timeout <duration>', 'stop after this long (500ms, 10s, 2m)'))
    .option('-v, --verbose', 'hex dump of rejected packets, sizes')
    .option('-q, --quiet', 'no messages on stderr, only packets on stdout')
    .addOption(sizeOption('--rcvbuf <size>', 'requested socket receive buffer', DEFAULT_RECV_BUFFER))
    .addHelpText(
      'after',
      `
Examples:
  $ qtstatus listen                              all packets to port 6667, broadcasts included
  $ qtstatus listen --host 127.0.0.1 --port 7000 --json
  $ qtstatus listen --group 239.1.2.3 --interface 192.0.2.10
  $ qtstatus listen --count 10 --timeout 30s --json | jq .email`,
    )
    .action(async (opts: ListenOptions) => {
      if (opts.interface !== undefined && opts.group === undefined) {
        throw new QtError(ErrorCodes.USAGE, '--interface needs --group', { hint: 'name the multicast group to join on that interface' });
      }
      const listening = await startListening(opts);
      const { address, port } = listening.receiver.address;
      const err = colourFor(process.stderr, opts.json);
      if (!opts.quiet) {
        const group = opts.group ? ` in group ${opts.group}` : '';
        process.stderr.write(err.dim(`listening on ${hostPort(address, port)} (UDP${group}); Ctrl-C to stop\n`));
        if (opts.verbose) {
          process.stderr.write(err.dim(`receive buffer ${listening.receiver.recvBufferSize} bytes\n`));
        }
      }
      const onSignal = () => listening.stop();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const summary = await listening.done;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const text = opts.quiet ? '' : formatSummary(summary, opts.json === true);
      if (!listening.outputStuck) {
        process.stderr.write(text);
        return;
      }
      // Lines stdout's reader never took keep a write pending, and with it
      // the process, until the reader goes away: they are counted in the
      // summary, so exit once it is out (#10).
      const exit = () => process.exit(0);
      setTimeout(exit, OUTPUT_GRACE_MS);
      process.stderr.write(text, exit);
    });
}
