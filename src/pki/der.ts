// A small, synchronous DER reader for the parts of a certificate that Node's
// X509Certificate does not expose (key usage bits, basic constraints, key
// identifiers, the raw subject name). Reading only: certificates are built
// with node-forge (./issue.ts). It reads definite-length, low-tag-number DER,
// which is all that X.509 uses, and throws on anything else.

export interface DerNode {
  /** The identifier octet, e.g. 0x30 for SEQUENCE, 0xa3 for [3] constructed. */
  tag: number;
  /** The whole encoding: identifier, length and content. */
  bytes: Buffer;
  /** The content octets. */
  content: Buffer;
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

/** The DER element that starts at `offset` in `buf`. */
export function readDer(buf: Buffer, offset = 0): DerNode {
  const fail = (why: string): never => {
    throw new Error(`malformed DER at byte ${offset}: ${why}`);
  };
  if (offset + 2 > buf.length) fail('truncated header');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) fail('high tag numbers are not used in X.509');
  let length = buf[offset + 1] as number;
  let header = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) fail('indefinite or oversized length');
    if (offset + 2 + n > buf.length) fail('truncated length');
    length = buf.readUIntBE(offset + 2, n);
    header += n;
  }
  const end = offset + header + length;
  if (end > buf.length) fail('content runs past the end');
  return { tag, bytes: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** The elements inside a constructed element (SEQUENCE, SET, [n]). */
export function derChildren(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  for (let at = 0; at < node.content.length; ) {
    const child = readDer(node.content, at);
    out.push(child);
    at += child.bytes.length;
  }
  return out;
}

/** An OBJECT IDENTIFIER's content as dotted text, e.g. "2.5.29.17". */
export function derOid(content: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** The i-th child, or an error naming what was expected there. */
export function derChild(node: DerNode, index: number, what: string): DerNode {
  const child = derChildren(node)[index];
  if (child === undefined) throw new Error(`malformed certificate: no ${what}`);
  return child;
}
