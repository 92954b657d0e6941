// The entry point of the standalone executable (and of bin/qtstatus). The
// version is answered before the CLI is loaded at all: `qtstatus --version`
// is what scripts and the startup benchmark run most (issue #6).

import { VERSION } from '../version.ts';

export async function run(argv: string[]): Promise<number> {
  // A reader that goes away (`qtstatus --help | head -3`) is not an error:
  // output simply stops. Streaming commands watch for it themselves.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const { main } = await import('./main.ts');
  return main(argv);
}
