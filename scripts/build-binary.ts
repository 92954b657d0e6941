// npm run build:binary — dist/qtstatus, one standalone executable for this
// platform (issue #6), offline; how: ./sea.ts.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSea } from './sea.ts';

const dist = fileURLToPath(new URL('../dist', import.meta.url));
const mb = (file: string) => (statSync(file).size / 1048576).toFixed(1);

const { output, main, base, stripped } = await buildSea(dist);
const version = execFileSync(output, ['--version']).toString().trim();
console.log(`built ${output}: qtstatus ${version}, ${mb(output)} MB (Node ${process.version} ${stripped ? 'stripped' : 'as is'}: ${mb(base)} MB; bundle ${mb(main)} MB)`);
