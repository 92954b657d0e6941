// How `qtstatus listen` shows a datagram: a block like the old Python
// listener's for people, one JSON object per line for programs (docs/protocol.md).
// Bytes from the network never reach a terminal raw: see ./escape.ts.

import type { ChalkInstance } from 'chalk';
import type { RejectReason, StatusPacket } from '../protocol/packet.ts';
import { msToIso, nsToIso } from '../protocol/time.ts';
import { hostPort, plainIp } from '../net/address.ts';
import { escapeText, safeJson } from './escape.ts';

export interface Source {
  address: string;
  port: number;
}

export type DatagramEvent =
  | { kind: 'status'; from: Source; size: number; receivedAt: number; packet: StatusPacket }
  | { kind: 'rejected'; from: Source; size: number; receivedAt: number; reason: RejectReason; message: string; bytes: Uint8Array };

/** "2025-12-20 13:06:40.123456789 UTC". */
function humanTime(ns: bigint): string {
  return nsToIso(ns).replace('T', ' ').replace('Z', ' UTC');
}

/** xxd-style rows: offset, 16 bytes in hex, printable ASCII. */
export function hexDump(bytes: Uint8Array, indent = '    '): string {
  const rows: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    rows.push(`${indent}${off.toString(16).padStart(4, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return rows.join('\n') + (rows.length ? '\n' : '');
}

const RULE = '-'.repeat(40);

export function formatHuman(ev: DatagramEvent, c: ChalkInstance, verbose: boolean): string {
  const from = hostPort(ev.from.address, ev.from.port);
  if (ev.kind === 'rejected') {
    const line = `${c.red('rejected')} ${from} ${ev.size} bytes: ${c.yellow(ev.reason)}: ${ev.message}\n`;
    return verbose ? line + hexDump(ev.bytes) : line;
  }
  const p = ev.packet;
  const port = p.port === 0 ? `0 ${c.dim('(unknown)')}` : String(p.port);
  return (
    `${c.dim(RULE)}\n` +
    `Source Packet: ${from}\n` +
    `User Email   : ${c.bold.cyan(escapeText(p.email))}\n` +
    `Last Seen    : ${c.green(humanTime(p.lastSeenNs))} ${c.dim(`(${p.lastSeenNs} ns)`)}\n` +
    `Client IP    : ${escapeText(p.ip)}\n` +
    `Client Port  : ${port}\n` +
    (verbose ? `Size         : ${ev.size} bytes\n` : '') +
    `${c.dim(RULE)}\n`
  );
}

/**
 * One line of JSON; see the schema in docs/protocol.md. Built by hand because
 * it runs once per packet (bench/listen.ts): only the email can need escaping
 * (the IP and source address are validated address text).
 */
export function formatJson(ev: DatagramEvent): string {
  const head =
    `{"type":"${ev.kind}","receivedAt":"${msToIso(ev.receivedAt)}",` +
    `"source":{"address":"${plainIp(ev.from.address)}","port":${ev.from.port}},"size":${ev.size},`;
  if (ev.kind === 'rejected') {
    return `${head}"reason":"${ev.reason}","message":${JSON.stringify(ev.message)},"hex":"${Buffer.from(ev.bytes).toString('hex')}"}\n`;
  }
  const p = ev.packet;
  return (
    `${head}"email":${safeJson(p.email)},"lastSeenNs":"${p.lastSeenNs}","lastSeen":"${nsToIso(p.lastSeenNs)}",` +
    `"ip":"${p.ip}","port":${p.port}}\n`
  );
}
