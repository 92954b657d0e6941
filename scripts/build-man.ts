// npm run build:man — dist/man/qtstatus.1, qtstatus-serve.1, … one manual
// page per command, from the same command definitions as --help
// (src/cli/man.ts). `node scripts/build-man.ts [--out DIR]`.
//
// The pages must not depend on who builds them: every QTSTATUS_* variable is
// cleared before the commands are defined (a default may come from one), and
// the date is SOURCE_DATE_EPOCH's, else the last commit's.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** YYYY-MM-DD: SOURCE_DATE_EPOCH, else the date of the last commit, else today. */
export function buildDate(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000).toISOString().slice(0, 10);
  try {
    const d = execFileSync('git', ['log', '-1', '--format=%cs'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    if (/^\d{4}-\d\d-\d\d$/.test(d)) return d;
  } catch {
    // not a clone
  }
  return new Date().toISOString().slice(0, 10);
}

/** The program's command tree as a fresh process would define it, with no QTSTATUS_* setting around. */
export async function cleanProgram() {
  for (const k of Object.keys(process.env)) if (k.startsWith('QTSTATUS_')) delete process.env[k];
  const { buildProgram } = await import('../src/cli/main.ts');
  return buildProgram();
}

/** Writes every page into `out` (replacing the old ones); returns the file names. */
export async function buildMan(out = join(root, 'dist', 'man')): Promise<string[]> {
  const { renderManPages } = await import('../src/cli/man.ts');
  const { VERSION } = await import('../src/version.ts');
  const pages = renderManPages(await cleanProgram(), { version: VERSION, date: buildDate() });
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.1')) rmSync(join(out, f));
  for (const p of pages) writeFileSync(join(out, `${p.name}.1`), p.roff);
  return pages.map((p) => `${p.name}.1`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 ? (process.argv[i + 1] as string) : join(root, 'dist', 'man');
  const files = await buildMan(out);
  console.error(`wrote ${files.length} manual pages to ${out}`);
}
