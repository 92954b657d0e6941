import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DOC, withVectors } from '../../scripts/protocol-vectors.ts';
import { EmailRefusals } from '../../src/protocol/email.ts';
import { RejectReasons } from '../../src/protocol/packet.ts';

it('docs/protocol.md shows the current packet and email vectors (node scripts/protocol-vectors.ts)', () => {
  const doc = readFileSync(DOC, 'utf8');
  expect(doc).toBe(withVectors(doc));
});

it('docs/protocol.md lists every reject reason with its message', () => {
  const doc = readFileSync(DOC, 'utf8');
  for (const [reason, message] of Object.entries(RejectReasons)) {
    expect(doc).toContain(`| \`${reason}\` | ${message} |`);
  }
});

it('docs/protocol.md lists every email refusal with its message', () => {
  const doc = readFileSync(DOC, 'utf8');
  for (const [refusal, message] of Object.entries(EmailRefusals)) {
    expect(doc).toContain(`| \`${refusal}\` | ${message} |`);
  }
});
