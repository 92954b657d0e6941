// `qtstatus users show EMAIL`.

import { ErrorCodes, QtError } from '../../../errors.ts';
import { hostPort } from '../../../net/address.ts';
import { escapeText, safeJson } from '../../escape.ts';
import { age, userJson, withStore, type DbOption } from './common.ts';

export async function showAction(email: string, opts: DbOption): Promise<void> {
  const { u, where } = await withStore(opts.db, async (s) => ({ u: await s.getUser(email), where: s.description }), { mustExist: true });
  if (!u) throw new QtError(ErrorCodes.NOT_FOUND, `no user ${email} in ${where}`, { hint: `add it: qtstatus users add ${email}` });
  if (opts.json) return void process.stdout.write(safeJson(userJson(u), 2) + '\n');
  const j = userJson(u);
  process.stdout.write(
    `email      ${escapeText(j.email)}\nregistered ${j.createdAt}\nlast seen  ${j.lastSeen ? `${j.lastSeen} (${age(u.lastSeenNs as bigint)})` : 'never'}\n` +
      (j.lastSeen ? `from       ${escapeText(hostPort(j.ip ?? '', j.port ?? 0))}\n` : ''),
  );
}
