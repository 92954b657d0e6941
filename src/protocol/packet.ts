// The status packet, wire format v0 (issue #2). Byte-compatible with the
// Python system qtstatus replaces; all integers big-endian:
//
//   0      1  N   email length, 1..254
//   1      N      email, UTF-8, a valid address (./email.ts)
//   1+N    8      last seen, uint64 nanoseconds since the Unix epoch
//   9+N    1  M   client IP length, >= 1
//   10+N   M      client IP, ASCII text of an IPv4 or IPv6 address
//   10+N+M 2      client port, uint16, 0 = unknown
//
// `decode` never throws: every read is bounds-checked first and a bad
// datagram yields a rejection with a stable reason code. Structure is checked
// before content, so a datagram is judged by its first structural fault.

import { isIP } from 'node:net';
import { isValidEmail } from './email.ts';

export interface StatusPacket {
  /** The user's email address (the certificate CN). */
  email: string;
  /** Last seen, nanoseconds since the Unix epoch (0 to 2^64-1). */
  lastSeenNs: bigint;
  /** The client's IP address as text. */
  ip: string;
  /** The client's source port; 0 when unknown. */
  port: number;
}

export const RejectReasons = {
  too_short: 'datagram is shorter than the 14-byte minimum',
  bad_email_length: 'email length byte must be 1 to 254',
  truncated: 'datagram ends before the fields its length bytes declare',
  bad_ip_length: 'IP length byte must be at least 1',
  trailing_bytes: 'datagram has bytes after the port field',
  invalid_utf8: 'email is not valid UTF-8',
  invalid_email: 'email is not a valid email address',
  invalid_ip: 'client IP is not an IPv4 or IPv6 address',
} as const;

export type RejectReason = keyof typeof RejectReasons;

export type DecodeResult =
  | { ok: true; packet: StatusPacket }
  | { ok: false; reason: RejectReason; message: string };

/** The smallest datagram that can be valid: 1-byte email, 1-byte IP. */
export const MIN_LENGTH = 14;
export const MAX_EMAIL_BYTES = 254;
export const MAX_IP_BYTES = 255;
const MAX_UINT64 = (1n << 64n) - 1n;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function reject(reason: RejectReason): DecodeResult {
  return { ok: false, reason, message: RejectReasons[reason] };
}

/**
 * The bytes [start, end) as text when all are ASCII, else undefined. Short
 * ASCII fields are the common case, and building them by hand is several
 * times faster than TextDecoder (bench/listen.ts).
 */
function asciiText(buf: Uint8Array, start: number, end: number): string | undefined {
  let text = '';
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b > 0x7f) return undefined;
    text += String.fromCharCode(b);
  }
  return text;
}

function readUint32(buf: Uint8Array, at: number): number {
  return (((buf[at] as number) << 24) | ((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number)) >>> 0;
}

/** Decodes one datagram. Never throws. */
export function decode(buf: Uint8Array): DecodeResult {
  const len = buf.length;
  if (len < MIN_LENGTH) return reject('too_short');
  const n = buf[0] as number;
  if (n < 1 || n > MAX_EMAIL_BYTES) return reject('bad_email_length');
  // 1 + N + 8 must leave room for the IP length byte.
  if (10 + n > len) return reject('truncated');
  const m = buf[9 + n] as number;
  if (m < 1) return reject('bad_ip_length');
  const total = 12 + n + m;
  if (total > len) return reject('truncated');
  if (total < len) return reject('trailing_bytes');

  let email = asciiText(buf, 1, 1 + n);
  if (email === undefined) {
    try {
      email = utf8.decode(buf.subarray(1, 1 + n));
    } catch {
      return reject('invalid_utf8');
    }
  }
  if (!isValidEmail(email)) return reject('invalid_email');
  const ip = asciiText(buf, 10 + n, 10 + n + m);
  if (ip === undefined || isIP(ip) === 0) return reject('invalid_ip');

  return {
    ok: true,
    packet: {
      email,
      lastSeenNs: (BigInt(readUint32(buf, 1 + n)) << 32n) | BigInt(readUint32(buf, 5 + n)),
      ip,
      port: ((buf[10 + n + m] as number) << 8) | (buf[11 + n + m] as number),
    },
  };
}

/** Thrown by `encode` and `encodingLength` for fields that cannot be sent. */
export class PacketFieldError extends RangeError {
  override readonly name = 'PacketFieldError';
  readonly field: keyof StatusPacket;
  constructor(field: keyof StatusPacket, message: string) {
    super(message);
    this.field = field;
  }
}

/** UTF-8 length of `text`: its length when all ASCII (every IP, most emails). */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return encoder.encode(text).length;
  }
  return text.length;
}

/** Writes `text`, `size` bytes of UTF-8, at `at`; ASCII without TextEncoder. */
function writeText(out: Uint8Array, at: number, text: string, size: number): void {
  if (size !== text.length) {
    out.set(encoder.encode(text), at); // not ASCII: UTF-8 is longer than the UTF-16 length
    return;
  }
  for (let i = 0; i < size; i++) out[at + i] = text.charCodeAt(i);
}

function writeUint32(out: Uint8Array, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = (word >>> 16) & 0xff;
  out[at + 2] = (word >>> 8) & 0xff;
  out[at + 3] = word & 0xff;
}

/** Checks every field the wire format must carry; returns the email's UTF-8 length. */
function checkFields(p: StatusPacket): number {
  if (typeof p.email !== 'string' || !isValidEmail(p.email)) {
    throw new PacketFieldError('email', RejectReasons.invalid_email);
  }
  const n = utf8Length(p.email);
  if (n > MAX_EMAIL_BYTES) throw new PacketFieldError('email', 'email is longer than 254 bytes');
  // An IP address is ASCII: its length is its byte length.
  if (typeof p.ip !== 'string' || isIP(p.ip) === 0) {
    throw new PacketFieldError('ip', RejectReasons.invalid_ip);
  }
  if (p.ip.length > MAX_IP_BYTES) throw new PacketFieldError('ip', 'client IP is longer than 255 bytes');
  if (typeof p.lastSeenNs !== 'bigint' || p.lastSeenNs < 0n || p.lastSeenNs > MAX_UINT64) {
    throw new PacketFieldError('lastSeenNs', 'last seen must be a bigint from 0 to 2^64-1');
  }
  if (!Number.isInteger(p.port) || p.port < 0 || p.port > 0xffff) {
    throw new PacketFieldError('port', 'port must be an integer from 0 to 65535');
  }
  return n;
}

/** The datagram size for `packet`. Throws PacketFieldError like `encode`. */
export function encodingLength(packet: StatusPacket): number {
  return 12 + checkFields(packet) + packet.ip.length;
}

/**
 * Encodes `packet` into `buf` at `offset` (a new buffer when omitted) and
 * returns the bytes written as a view. Throws PacketFieldError for a field
 * the wire format cannot carry; it never sends what a listener would reject.
 */
export function encode(packet: StatusPacket, buf?: Uint8Array, offset = 0): Uint8Array {
  const n = checkFields(packet);
  const m = packet.ip.length;
  const size = 12 + n + m;
  const out = buf ?? new Uint8Array(size);
  if (offset < 0 || offset + size > out.length) throw new RangeError('buffer too small for the packet');
  out[offset] = n;
  writeText(out, offset + 1, packet.email, n);
  writeUint32(out, offset + 1 + n, Number(packet.lastSeenNs >> 32n));
  writeUint32(out, offset + 5 + n, Number(packet.lastSeenNs & 0xffffffffn));
  out[offset + 9 + n] = m;
  writeText(out, offset + 10 + n, packet.ip, m);
  out[offset + 10 + n + m] = packet.port >>> 8;
  out[offset + 11 + n + m] = packet.port & 0xff;
  return out.subarray(offset, offset + size);
}
