// `qtstatus completion bash|zsh|fish` (issue #13): each script, loaded into
// the real shell, completes subcommands, options and option values at any
// depth. bash through COMP_WORDS/COMP_CWORD as bash sets them, fish through
// `complete -C`, zsh through its completion system in a pseudo-terminal
// (and its walker with stand-ins for compsys' functions). A shell that is
// missing is skipped with a message (apt-get install zsh fish).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.ts';
import { completionScript, completionSpec, type Shell } from '../../src/cli/commands/completion.ts';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'qt-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

/** A small program of our own, for what the real one has not (yet): an option with choices, nested paths. */
function sample(): Command {
  const p = new Command('qtstatus').version('9.9.9', '-V, --version');
  const serve = p.command('serve').summary('serve it');
  serve.option('--cert <file>', 'a certificate').option('-p, --port <port>', 'a port').option('--json', 'a flag');
  serve.addOption(new Option('--log <format>', 'log format').choices(['auto', 'json', 'text']));
  const certs = p.command('certs').summary('certificates');
  certs.command('init').summary('make them').option('-d, --dir <dir>', 'where').option('--quiet', 'hush');
  certs.command('bundle').argument('<side>').option('--force', 'replace');
  return p;
}

const scripts: Partial<Record<Shell, string>> = {};
const sampleScripts: Partial<Record<Shell, string>> = {};
beforeAll(() => {
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    scripts[shell] = join(dir, `real.${shell}`);
    writeFileSync(scripts[shell] as string, completionScript(buildProgram(), shell));
    sampleScripts[shell] = join(dir, `sample.${shell}`);
    writeFileSync(sampleScripts[shell] as string, completionScript(sample(), shell));
  }
  mkdirSync(join(dir, 'files'));
  for (const f of ['server.crt', 'server.key', 'sub dir/x']) {
    mkdirSync(join(dir, 'files', f, '..'), { recursive: true });
    writeFileSync(join(dir, 'files', f), '');
  }
});

describe('the command', () => {
  it('prints each script, and refuses another shell with exit 2', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runCli(['completion', shell]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`${shell} completion for qtstatus`));
    }
    const bad = await runCli(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bash, zsh, fish/);
  });

  it('knows every command path, and which options take what', () => {
    const specs = completionSpec(buildProgram());
    const paths = specs.map((s) => s.path);
    expect(paths).toEqual(expect.arrayContaining(['qtstatus', 'qtstatus/serve', 'qtstatus/certs/init', 'qtstatus/users/add', 'qtstatus/completion', 'qtstatus/help']));
    const serve = specs.find((s) => s.path === 'qtstatus/serve');
    expect(serve?.options.find((o) => o.names.includes('--cert'))?.value).toEqual({ kind: 'file' });
    expect(serve?.options.find((o) => o.names.includes('--auto-enroll'))?.value).toBeUndefined();
    expect(specs.find((s) => s.path === 'qtstatus/completion')?.args).toEqual({ kind: 'choices', choices: ['bash', 'zsh', 'fish'] });
  });
});

/** What bash offers for `words` (the last being the one at the cursor), as bash calls a -F function. */
function bashComplete(script: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const program = `source '${script}'
COMP_WORDS=(${quoted}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
_qtstatus qtstatus "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', program], { cwd: join(dir, 'files'), encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

describe.skipIf(!has('bash'))('bash', () => {
  it('registers the function for qtstatus', () => {
    const out = execFileSync('bash', ['--norc', '-c', `source '${scripts.bash}'; complete -p qtstatus`], { encoding: 'utf8' });
    expect(out.trim()).toBe('complete -F _qtstatus qtstatus');
  });

  it('completes subcommands at every depth', () => {
    const s = scripts.bash as string;
    expect(bashComplete(s, ['qtstatus', ''])).toEqual(expect.arrayContaining(['certs', 'serve', 'users', 'ping', 'listen', 'demo', 'completion', 'help']));
    expect(bashComplete(s, ['qtstatus', 'se'])).toEqual(['serve']);
    expect(bashComplete(s, ['qtstatus', 'certs', ''])).toEqual(expect.arrayContaining(['init', 'client', 'server', 'inspect', 'verify', 'p12']));
    expect(bashComplete(s, ['qtstatus', 'users', 'l'])).toEqual(['list']);
    expect(bashComplete(s, ['qtstatus', 'help', 'li'])).toEqual(['listen']);
    expect(bashComplete(s, ['qtstatus', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
  });

  it("completes a command's options, after options and their values too", () => {
    const s = scripts.bash as string;
    expect(bashComplete(s, ['qtstatus', 'serve', '--udp'])).toEqual(['--udp-target', '--udp-source-port', '--udp-ttl']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--port', '8443', '--udp-ta'])).toEqual(['--udp-target']);
    expect(bashComplete(s, ['qtstatus', 'certs', 'init', '--dir', 'x', '--key-'])).toEqual(['--key-type']);
    expect(bashComplete(s, ['qtstatus', 'listen', '-'])).toEqual(expect.arrayContaining(['--port', '--group', '--json', '--config', '--help']));
    // the value of --host is not taken for a subcommand, nor is `certs` once the path has moved on
    expect(bashComplete(s, ['qtstatus', 'serve', '--host', 'certs', '--wor'])).toEqual(['--workers']);
  });

  it('completes file names for file options and arguments', () => {
    const s = scripts.bash as string;
    expect(bashComplete(s, ['qtstatus', 'serve', '--cert', 'server.'])).toEqual(['server.crt', 'server.key']);
    expect(bashComplete(s, ['qtstatus', 'certs', 'inspect', 'server.c'])).toEqual(['server.crt']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--cert', 'sub'])).toEqual(['sub dir']);
  });

  it('completes choices, as --opt value, --opt=value (bash splits at =) and --opt=value whole', () => {
    const s = sampleScripts.bash as string;
    expect(bashComplete(s, ['qtstatus', 'serve', '--log', ''])).toEqual(['auto', 'json', 'text']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--log', 'j'])).toEqual(['json']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--log', '='])).toEqual(['auto', 'json', 'text']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--log', '=', 't'])).toEqual(['text']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--log=a'])).toEqual(['--log=auto']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--log', '=', 'text', '--j'])).toEqual(['--json']);
    expect(bashComplete(s, ['qtstatus', 'serve', '--port', '1', ''])).toEqual([]);
    expect(bashComplete(s, ['qtstatus', 'certs', 'init', '-d', 's'])).toEqual(['sub dir']);
    expect(bashComplete(s, ['qtstatus', 'certs', 'bundle', '--force', '-'])).toEqual(['--force', '-h', '--help']);
  });
});

describe.skipIf(!has('fish'))('fish', () => {
  const fish = (script: string, line: string) =>
    execFileSync('fish', ['--no-config', '-c', `source '${script}'; complete -C '${line}'`], { cwd: join(dir, 'files'), encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0]);

  it('completes subcommands, options, choices and files', () => {
    const s = scripts.fish as string;
    expect(fish(s, 'qtstatus se')).toEqual(['serve']);
    expect(fish(s, 'qtstatus certs ')).toEqual(expect.arrayContaining(['init', 'client', 'bundle']));
    expect(fish(s, 'qtstatus certs bundle ')).toEqual(['client', 'server']);
    expect(fish(s, 'qtstatus certs init --dir /tmp --key-')).toEqual(['--key-type']);
    expect(fish(s, 'qtstatus serve --udp-ta')).toEqual(['--udp-target']);
    expect(fish(s, 'qtstatus serve --cert server.')).toEqual(['server.crt', 'server.key']);
    expect(fish(s, 'qtstatus completion ')).toEqual(['bash', 'fish', 'zsh']);
    expect(fish(sampleScripts.fish as string, 'qtstatus serve --log ')).toEqual(['auto', 'json', 'text']);
  });
});

describe.skipIf(!has('zsh'))('zsh', () => {
  it('parses, and registers _qtstatus with compinit', () => {
    expect(spawnSync('zsh', ['-n', scripts.zsh as string]).status).toBe(0);
    const out = execFileSync('zsh', ['-f', '-c', `autoload -Uz compinit && compinit -u -d '${dir}/zcompdump'; source '${scripts.zsh}'; print -r -- $_comps[qtstatus]`], { encoding: 'utf8' });
    expect(out.trim()).toBe('_qtstatus');
  });

  it('walks the words to the right candidates (compsys stood in for)', () => {
    const stubs = `compdef() { : }
_describe() { local -a arr; arr=("\${(@P)4}"); print -rl -- "\${arr[@]%%:*}" }
compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }
_files() { print -r -- "FILES $*" }
_message() { print -r -- "MESSAGE $*" }
compset() { : }`;
    const zsh = (script: string, words: string[]) =>
      execFileSync('zsh', ['-f', '-c', `${stubs}\nsource '${script}'\nwords=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _qtstatus`], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
    const s = scripts.zsh as string;
    expect(zsh(s, ['qtstatus', ''])).toEqual(expect.arrayContaining(['certs', 'serve', 'listen', 'help']));
    expect(zsh(s, ['qtstatus', 'certs', 'bundle', ''])).toEqual(['server', 'client']);
    expect(zsh(s, ['qtstatus', 'serve', '--cert', ''])).toEqual(['FILES ']);
    expect(zsh(s, ['qtstatus', 'serve', '--port', '1', '-'])).toEqual(expect.arrayContaining(['--udp-target', '--workers']));
    expect(zsh(s, ['qtstatus', 'certs', 'init', '--dir', 'x', '-'])).toEqual(expect.arrayContaining(['--key-type', '--client']));
    expect(zsh(sampleScripts.zsh as string, ['qtstatus', 'serve', '--log', ''])).toEqual(['auto', 'json', 'text']);
    expect(zsh(sampleScripts.zsh as string, ['qtstatus', 'certs', 'init', '-d', ''])).toEqual(['FILES -/']);
  });

  it('completes in an interactive zsh (Tab in a pseudo-terminal)', () => {
    // zpty runs an interactive zsh; Tab after "certs bu" must leave "certs bundle".
    const program = `zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'PS1="> "; autoload -Uz compinit; compinit -u -d ${dir}/zcompdump2; source ${scripts.zsh}; print READY'
zpty -r -m z out '*READY*' || exit 3
zpty -w -n z $'qtstatus certs bu\\t'
zpty -r -m z out '*certs bundle*' || exit 4
print OK
zpty -d z`;
    const r = spawnSync('zsh', ['-f', '-c', program], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout, r.stderr).toContain('OK');
  });
});
