// node-forge, loaded on first use: it takes ~50 ms to import, which commands
// that never build a certificate (and the server, which only reads them)
// should not pay. Forge handles binary data as "binary strings"; the two
// helpers convert at the boundary with Node's Buffers.

import type forgeModule from 'node-forge';

export type Forge = typeof forgeModule;
export type Asn1 = forgeModule.asn1.Asn1;

let loading: Promise<Forge> | undefined;

export function loadForge(): Promise<Forge> {
  loading ??= import('node-forge').then((m) => (m.default ?? m) as Forge);
  return loading;
}

/** DER bytes as the ASN.1 object forge works with. */
export function asn1FromBuffer(forge: Forge, der: Buffer): Asn1 {
  return forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
}

/** A forge ASN.1 object as DER bytes. */
export function asn1ToBuffer(forge: Forge, node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}
