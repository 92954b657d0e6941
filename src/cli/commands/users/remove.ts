// `qtstatus users remove EMAIL`: its next request gets 403.

import { ErrorCodes, QtError } from '../../../errors.ts';
import { escapeText } from '../../escape.ts';
import { withStore, type DbOption } from './common.ts';

export async function removeAction(email: string, opts: DbOption): Promise<void> {
  const { removed, where } = await withStore(opts.db, async (s) => ({ removed: await s.removeUser(email), where: s.description }), { mustExist: true });
  if (!removed) throw new QtError(ErrorCodes.NOT_FOUND, `no user ${email} in ${where}`);
  process.stderr.write(`removed ${escapeText(email)}\n`);
}
