// Manual pages from the command definitions (issue #13): one per command,
// with every option --help shows, its default and its environment variable,
// the examples and exit codes of the help text; rendered by man-db and groff
// without a warning (as lintian checks them), with a NAME line whatis reads,
// and text that pastes as typed (ASCII hyphens and quotes).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.ts';
import { esc, pageCommands, pageName, parseAfterText, renderManPages } from '../../src/cli/man.ts';

const root = join(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'qt-man-'));
let files: string[] = [];
afterAll(() => rmSync(out, { recursive: true, force: true }));

beforeAll(() => {
  // The script, as `npm run build:man` runs it, with a setting in the environment it must ignore.
  execFileSync(process.execPath, [join(root, 'scripts/build-man.ts'), '--out', out], {
    env: { ...process.env, QTSTATUS_DB: '/somewhere/else.db', SOURCE_DATE_EPOCH: '1767225600' },
    stdio: 'pipe',
  });
  files = readdirSync(out).sort();
}, 60_000);

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const page = (name: string) => readFileSync(join(out, `${name}.1`), 'utf8');
/** The page as man shows it, in plain text. */
const rendered = (name: string) =>
  execFileSync('man', ['-l', '-Tutf8', join(out, `${name}.1`)], { env: { ...process.env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '', LC_ALL: 'C.UTF-8' }, encoding: 'utf8' }).replace(/.\x08/g, '');

describe('the pages', () => {
  it('are one per command, git-style names', () => {
    const program = buildProgram();
    const expected = pageCommands(program).map((c) => `${pageName(c)}.1`).sort();
    expect(files).toEqual(expected);
    expect(files).toEqual(expect.arrayContaining(['qtstatus.1', 'qtstatus-serve.1', 'qtstatus-listen.1', 'qtstatus-certs.1', 'qtstatus-certs-init.1', 'qtstatus-users-add.1', 'qtstatus-completion.1']));
  });

  it('have the sections, in man-pages(7) order, and the date the build asked for', () => {
    for (const f of files) {
      const text = readFileSync(join(out, f), 'utf8');
      const sections = [...text.matchAll(/^\.SH (.*)$/gm)].map((m) => m[1]);
      expect(sections.slice(0, 3), f).toEqual(['NAME', 'SYNOPSIS', 'DESCRIPTION']);
      expect(sections, f).toContain('EXIT STATUS');
      expect(sections.at(-1), f).toBe('SEE ALSO');
      expect(sections.indexOf('EXIT STATUS'), f).toBeGreaterThan(sections.indexOf('OPTIONS'));
      if (sections.includes('EXAMPLES')) expect(sections.indexOf('EXAMPLES'), f).toBeGreaterThan(sections.indexOf('EXIT STATUS'));
      expect(text, f).toMatch(/^\.TH \S+ 1 2026-01-01 "qtstatus \d+\.\d+\.\d+"/m);
    }
  });

  it('name every option with its default and its variable, whatever the environment of the build', () => {
    const serve = page('qtstatus-serve');
    const program = buildProgram();
    const cmd = program.commands.find((c) => c.name() === 'serve') as Command;
    for (const o of cmd.options) expect(serve, o.flags).toContain(esc(o.long as string));
    expect(serve).toMatch(/\\fB\\-p\\fR, \\fB\\-\\-port\\fR \\fIport\\fR\n.*\n\.br\nDefault: \\fB8443\\fR\.\nEnvironment: \\fBQTSTATUS_PORT\\fR\./);
    expect(serve).toContain('Environment: \\fBQTSTATUS_UDP_TARGET\\fR');
    expect(serve).toContain('Default: \\fB10s\\fR'); // --grace, as --help shows it
    expect(serve).toContain('Default: \\fBqtstatus.db\\fR'); // not the QTSTATUS_DB of the build
    expect(serve).not.toContain('somewhere');
    expect(serve).toContain('.SH CONFIGURATION FILE');
    expect(page('qtstatus-listen')).toContain('.SH CONFIGURATION FILE');
    expect(page('qtstatus-ping')).not.toContain('.SH CONFIGURATION FILE');
  });

  it('take EXAMPLES and EXIT STATUS from the help text after the options', () => {
    const ping = rendered('qtstatus-ping');
    expect(ping).toMatch(/EXAMPLES\n[\s\S]*qtstatus ping --count 1000 --concurrency 10/);
    expect(ping).toMatch(/Throughput and latency percentiles:/);
    expect(ping).toMatch(/EXIT STATUS\n[\s\S]*\n {7}3 {6}The server could not be reached/);
    const serve = rendered('qtstatus-serve');
    expect(serve).toMatch(/EXIT STATUS\n\s+0 after SIGINT or SIGTERM/);
    // Commands that say nothing have the program's exit codes.
    expect(rendered('qtstatus-users-add')).toMatch(/EXIT STATUS\n\s+0 success, 1 failure, 2 usage error/);
  });

  it('paste as typed: ASCII hyphens and quotes in options and examples', () => {
    const list = rendered('qtstatus-certs-list');
    expect(list).toContain("qtstatus certs list --dir /srv/ca --json | jq -r '.certificates[]");
    expect(rendered('qtstatus-serve')).toContain('--udp-target host:port');
  });

  it('list subcommands with their pages, and link back', () => {
    const certs = rendered('qtstatus-certs');
    expect(certs).toMatch(/COMMANDS\n[\s\S]*init\s+A CA, a server and a client certificate in one step:\s+qtstatus-certs-init\(1\)\./);
    expect(rendered('qtstatus-certs-init')).toMatch(/SEE ALSO\n\s+qtstatus\(1\), qtstatus-certs\(1\)/);
  });
});

describe('parsing the help text', () => {
  it('splits examples from their notes and exit codes into a list', () => {
    const parsed = parseAfterText(`
Examples:
  $ qtstatus a --b                 what it does
  $ qtstatus c

Exit codes:
  0  fine
  3  not reached: refused,
     or a timeout
With --count, the most frequent.`);
    expect(parsed.examples).toEqual([{ command: 'qtstatus a --b', note: 'what it does' }, { command: 'qtstatus c', note: undefined }]);
    expect(parsed.exitStatus?.codes).toEqual([{ code: '0', text: 'fine' }, { code: '3', text: 'not reached: refused, or a timeout' }]);
    expect(parsed.exitStatus?.text).toEqual(['With --count, the most frequent.']);
  });

  it('escapes roff: requests at a line start, backslashes, non-ASCII', () => {
    const program = buildProgram();
    const pages = renderManPages(program, { version: '1.2.3', date: '2026-01-01' });
    for (const p of pages) {
      for (const l of p.roff.split('\n')) {
        expect(/[^\x20-\x7e]/.test(l), `${p.name}: ${l}`).toBe(false);
        if (l.startsWith('.') && !l.startsWith('.\\"')) expect(l, p.name).toMatch(/^\.(TH|SH|PP|TP|RS|RE|EX|EE|nf|fi|br|ad|nr) ?/);
      }
    }
    expect(esc('a\\b - “x”')).toBe('a\\eb \\- \\[u201C]x\\[u201D]');
  });
});

describe.skipIf(!has('man') || !has('groff'))('rendering (man-db, groff)', () => {
  it('gives no warning from man --warnings, as lintian runs it, nor from groff -ww', () => {
    for (const f of files) {
      const r = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', join(out, f)], { env: { ...process.env, LC_ALL: 'C.UTF-8', MANROFFSEQ: '', MANWIDTH: '80' }, encoding: 'utf8' });
      expect(r.status, f).toBe(0);
      expect(r.stderr, f).toBe('');
    }
    const g = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', ...files.map((f) => join(out, f))], { encoding: 'utf8' });
    expect(g.status).toBe(0);
    expect(g.stderr).toBe('');
  });

  it.skipIf(!has('lexgrog'))('have a NAME line whatis reads', () => {
    const r = execFileSync('lexgrog', [join(out, 'qtstatus-serve.1'), join(out, 'qtstatus.1')], { encoding: 'utf8' });
    expect(r).toContain('qtstatus-serve.1: "qtstatus-serve - run the mTLS status server"');
    expect(r).toContain('qtstatus.1: "qtstatus - Verified user status over mutual TLS"');
  });
});
