// Key types and key generation. Keys are made by Node's crypto (OpenSSL),
// asynchronously on the thread pool, so several keys are made in parallel.

import { generateKeyPair as generateNodeKeyPair, type KeyObject } from 'node:crypto';
import { ErrorCodes, QtError } from '../errors.ts';

export const KEY_TYPES = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'ecdsa-p256'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'rsa-2048';

const ALIASES: Record<string, KeyType> = {
  rsa: 'rsa-2048',
  rsa2048: 'rsa-2048',
  rsa3072: 'rsa-3072',
  rsa4096: 'rsa-4096',
  ecdsa: 'ecdsa-p256',
  ec: 'ecdsa-p256',
  p256: 'ecdsa-p256',
  'p-256': 'ecdsa-p256',
  ecdsap256: 'ecdsa-p256',
  prime256v1: 'ecdsa-p256',
};

/** "rsa-2048", "RSA2048", "ecdsa", "p256" … → a KeyType, or undefined. */
export function parseKeyType(value: string): KeyType | undefined {
  const text = value.trim().toLowerCase();
  if ((KEY_TYPES as readonly string[]).includes(text)) return text as KeyType;
  return ALIASES[text.replace(/[-_]/g, '')] ?? ALIASES[text];
}

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(type: KeyType): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      err ? reject(new QtError(ErrorCodes.INTERNAL, `cannot generate a ${type} key`, { cause: err })) : resolve({ publicKey, privateKey });
    if (type === 'ecdsa-p256') generateNodeKeyPair('ec', { namedCurve: 'P-256' }, done);
    else generateNodeKeyPair('rsa', { modulusLength: Number(type.slice(4)), publicExponent: 0x10001 }, done);
  });
}

export interface KeyDescription {
  /** "RSA", "ECDSA", "Ed25519" … */
  algorithm: string;
  /** Modulus or curve size in bits. */
  bits?: number;
  /** NIST name of the curve, e.g. "P-256". */
  curve?: string;
  /** For people: "RSA 2048", "ECDSA P-256". */
  label: string;
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

export function describeKey(key: KeyObject): KeyDescription {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss': {
      const algorithm = key.asymmetricKeyType === 'rsa' ? 'RSA' : 'RSA-PSS';
      return { algorithm, bits: details.modulusLength, label: `${algorithm} ${details.modulusLength}` };
    }
    case 'ec': {
      const raw = details.namedCurve ?? 'unknown curve';
      const curve = CURVES[raw];
      return { algorithm: 'ECDSA', bits: curve?.bits, curve: curve?.name ?? raw, label: `ECDSA ${curve?.name ?? raw}` };
    }
    default: {
      const name = key.asymmetricKeyType ?? key.type;
      const algorithm = name === 'ed25519' ? 'Ed25519' : name === 'ed448' ? 'Ed448' : name.toUpperCase();
      return { algorithm, label: algorithm };
    }
  }
}

/** The KeyType a key was made as, when it is one of ours. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const d = describeKey(key);
  if (d.algorithm === 'ECDSA' && d.curve === 'P-256') return 'ecdsa-p256';
  return d.algorithm === 'RSA' ? parseKeyType(`rsa-${d.bits}`) : undefined;
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY"), which OpenSSL, nginx, curl, Python and Node read. */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}
