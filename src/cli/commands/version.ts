// `qtstatus version`: what is running, for bug reports and fleet inventories
// (issue #13). `qtstatus --version` stays the fast one-liner (../entry.ts).

import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { BUILD, VERSION } from '../../version.ts';

/** From the sources: the clone's commit, if git can say. */
function sourceBuild(): { commit: string; date: string } | undefined {
  try {
    const cwd = dirname(fileURLToPath(import.meta.url));
    const out = execFileSync('git', ['log', '-1', '--format=%H %cI'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).toString().trim();
    const [commit = '', date = ''] = out.split(' ');
    return commit ? { commit, date } : undefined;
  } catch {
    return undefined;
  }
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('Print the version, the Node.js it runs on, the platform and the build.')
    .option('--json', 'a JSON object')
    .addHelpText('after', '\nExamples:\n  $ qtstatus version\n  $ qtstatus version --json | jq -r .build.commit')
    .action((opts: { json?: boolean }) => {
      const build = BUILD ?? sourceBuild();
      const info = {
        version: VERSION,
        node: process.versions.node,
        platform: `${process.platform}-${process.arch}`,
        standalone: process.getBuiltinModule('node:sea')?.isSea() ?? false,
        build: build ? { ...build, from: BUILD ? 'bundle' : 'sources' } : null,
      };
      if (opts.json) return void process.stdout.write(JSON.stringify(info) + '\n');
      process.stdout.write(
        `qtstatus ${info.version}\nnode     ${info.node}\nplatform ${info.platform}${info.standalone ? ' (standalone executable)' : ''}\n` +
          `build    ${build ? `${build.commit.slice(0, 12)} ${build.date} (${info.build?.from})` : 'unknown'}\n`,
      );
    });
}
