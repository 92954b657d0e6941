// Bundled by scripts/build-binary.ts into the single executable.
import { run } from './entry.ts';

run(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`qtstatus: internal error: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
