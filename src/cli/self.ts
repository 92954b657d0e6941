// How to run this same qtstatus as a child process: the standalone
// executable is its own entry point; from source, node runs bin/qtstatus.

import { isSea } from 'node:sea';

export function selfCommand(args: string[]): { file: string; args: string[] } {
  if (isSea()) return { file: process.execPath, args };
  return { file: process.execPath, args: [process.argv[1] ?? 'bin/qtstatus', ...args] };
}
