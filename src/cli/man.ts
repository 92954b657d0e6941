// Manual pages from the command definitions (issue #13): the same commander
// tree that --help prints, rendered as roff, one page per command, as git
// does: qtstatus(1), qtstatus-serve(1), qtstatus-certs-init(1) …
// scripts/build-man.ts writes them to dist/man; the Debian package installs
// them gzipped. Sections: NAME, SYNOPSIS, DESCRIPTION, COMMANDS, OPTIONS (with
// each default and environment variable), CONFIGURATION FILE (commands with
// --config), EXAMPLES and EXIT STATUS (from the text each command adds after
// its help), SEE ALSO.

import type { Argument, Command, Option } from 'commander';

export interface ManPage {
  /** The page's name: `qtstatus-certs-init`; its file is `<name>.1`. */
  name: string;
  roff: string;
}

export interface ManOptions {
  version: string;
  /** The date in the page footer, YYYY-MM-DD (the build's, for reproducible pages). */
  date: string;
}

/** The command names from the program down: ["qtstatus", "certs", "init"]. */
export function commandPath(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names;
}

/** Every command of the tree that has a page: all but the hidden ones and commander's implicit `help`. */
export function pageCommands(program: Command): Command[] {
  const out: Command[] = [];
  const visit = (cmd: Command) => {
    out.push(cmd);
    for (const sub of cmd.commands) if (!(sub as unknown as { _hidden: boolean })._hidden) visit(sub);
  };
  visit(program);
  return out;
}

/**
 * Text for roff: backslashes, hyphens (a typed `-`, not a typographic
 * hyphen) and anything outside ASCII as a named glyph, so groff reads the page
 * the same way with or without preconv.
 */
export function esc(text: string): string {
  let out = '';
  for (const ch of text.replace(/\\/g, '\\e').replace(/-/g, '\\-')) {
    const code = ch.codePointAt(0) as number;
    if (code === 0x09) out += ' ';
    else if (ch === '`') out += '\\(ga'; // else a typographic quote: examples must paste as typed
    else if (ch === "'") out += '\\(aq';
    else if (code < 0x20 || code === 0x7f) continue;
    else if (code < 0x80) out += ch;
    else out += `\\[u${code.toString(16).toUpperCase().padStart(4, '0')}]`;
  }
  return out;
}

/** One line of text in roff: a leading `.` or `'` would be read as a request. */
function line(text: string): string {
  const t = esc(text);
  return /^[.']/.test(t) ? `\\&${t}` : t;
}

/** A help fragment ("address to listen on") as a man page sentence ("Address to listen on."). */
export function sentence(text: string, end = '.'): string {
  let t = text.trim().replace(/\s*\n\s*/g, ' ');
  if (/^[a-z][a-z\s]/.test(t)) t = t[0]?.toUpperCase() + t.slice(1);
  return /[.!?:)]$/.test(t) ? t : t + end;
}

const bold = (text: string) => `\\fB${esc(text)}\\fR`;
const italic = (text: string) => `\\fI${esc(text)}\\fR`;

/** Hard-wrapped help text (80 columns) as roff paragraphs: lines join, blank lines part; indented lines stay as they are. */
function paragraphs(text: string): string[] {
  const out: string[] = [];
  for (const block of text.trim().split(/\n\s*\n/)) {
    const lines = block.split('\n');
    if (lines.some((l) => /^\s{2,}\S/.test(l))) {
      out.push('.PP', '.RS 4', '.nf', ...lines.map((l) => line(l.trimEnd())), '.fi', '.RE');
    } else {
      out.push('.PP', line(lines.map((l) => l.trim()).join(' ')));
    }
  }
  return out;
}

/** The one-line summary for NAME and COMMANDS: summary(), else the description's first sentence. */
export function summaryOf(cmd: Command): string {
  const summary = cmd.summary() || cmd.description().split('\n')[0]?.replace(/\.\s.*$/, '') || '';
  return summary.replace(/\.$/, '');
}

function argumentTerm(arg: Argument): string {
  const name = italic(arg.name()) + (arg.variadic ? '\\ ...' : '');
  return arg.required ? name : `[${name}]`;
}

function optionTerm(option: Option): string {
  const flags = [option.short, option.long].filter((f): f is string => !!f).map(bold);
  const m = /[<[]([^>\]]*)[>\]]/.exec(option.flags);
  let value = '';
  if (m) value = option.required ? ` ${italic(m[1] as string)}` : ` [${italic(m[1] as string)}]`;
  if (option.variadic) value += '\\ ...';
  return flags.join(', ') + value;
}

/** The default as --help shows it, or undefined when there is none worth naming. */
export function defaultText(option: Option): string | undefined {
  if (option.defaultValueDescription) return option.defaultValueDescription;
  const v = option.defaultValue as unknown;
  if (v === undefined || v === false || option.negate) return undefined;
  if (Array.isArray(v)) return v.length ? v.join(', ') : undefined;
  return String(v);
}

/** Sections from the text after the help: `Examples:` lines and `Exit codes:` become EXAMPLES and EXIT STATUS. */
export interface AfterText {
  examples: Array<{ command: string; note?: string }>;
  exitStatus?: { text: string[]; codes: Array<{ code: string; text: string }> };
  other: Array<{ title: string; lines: string[] }>;
}

export function afterHelpText(cmd: Command): string {
  let text = '';
  (cmd as unknown as NodeJS.EventEmitter).emit('afterHelp', { error: false, command: cmd, write: (s: string) => void (text += s) });
  return text;
}

export function parseAfterText(text: string): AfterText {
  const result: AfterText = { examples: [], other: [] };
  // Sections start at a line in column 0 that ends a title with a colon.
  const sections: Array<{ title: string; lines: string[] }> = [];
  for (const raw of text.split('\n')) {
    const l = raw.trimEnd();
    const head = /^([A-Z][A-Za-z ]{0,30}):(?:\s+(.*))?$/.exec(l);
    if (head) sections.push({ title: head[1] as string, lines: head[2] ? [head[2]] : [] });
    else if (sections.length) sections[sections.length - 1]?.lines.push(l);
    else if (l.trim()) sections.push({ title: 'Notes', lines: [l] });
  }
  for (const s of sections) {
    const title = s.title.toLowerCase();
    if (title === 'examples' || title === 'example') {
      for (const l of s.lines) {
        const m = /^\s*\$\s+(.*?)(?:\s{2,}(\S.*))?$/.exec(l);
        if (m) result.examples.push({ command: m[1] as string, note: m[2] });
        else if (l.trim() && result.examples.length) {
          const last = result.examples[result.examples.length - 1] as { command: string; note?: string };
          last.note = last.note ? `${last.note} ${l.trim()}` : l.trim();
        }
      }
    } else if (title === 'exit codes' || title === 'exit status') {
      const exit = { text: [] as string[], codes: [] as Array<{ code: string; text: string }> };
      let inList = false;
      for (const l of s.lines) {
        const m = /^\s+(\d+)\s{2,}(.*)$/.exec(l);
        if (m) {
          exit.codes.push({ code: m[1] as string, text: (m[2] as string).trim() });
          inList = true;
        } else if (inList && /^\s{3,}\S/.test(l)) {
          const last = exit.codes[exit.codes.length - 1] as { text: string };
          last.text += ` ${l.trim()}`;
        } else {
          if (l.trim() || exit.text.length) exit.text.push(l.trim());
          inList = false;
        }
      }
      while (exit.text.length && !exit.text[exit.text.length - 1]) exit.text.pop();
      result.exitStatus = exit;
    } else {
      result.other.push(s);
    }
  }
  return result;
}

function commandName(cmd: Command): string {
  return commandPath(cmd).join(' ');
}

export function pageName(cmd: Command): string {
  return commandPath(cmd).join('-');
}

/** The visible subcommands, the implicit `help` included, through commander's own Help. */
function subcommands(cmd: Command): Command[] {
  return cmd.createHelp().visibleCommands(cmd);
}

export function renderManPage(cmd: Command, opts: ManOptions): string {
  const help = cmd.createHelp();
  const name = pageName(cmd);
  const out: string[] = [];
  out.push(`.\\" ${name}(1): generated from the qtstatus command definitions (src/cli/man.ts); do not edit.`);
  out.push('.nr HY 0'); // no hyphenation (an.tmac's register): names and flags stay whole
  out.push(`.TH ${esc(name.toUpperCase())} 1 ${opts.date} "qtstatus ${esc(opts.version)}" "qtstatus manual"`);
  out.push('.ad l'); // ragged right

  out.push('.SH NAME', `${esc(name)} \\- ${esc(summaryOf(cmd))}`);

  out.push('.SH SYNOPSIS');
  const subs = subcommands(cmd);
  const args = cmd.registeredArguments;
  const synopsis = [bold(commandName(cmd))];
  if (subs.length) synopsis.push(`[${italic('options')}] ${italic('command')} [${italic('arguments')}]`);
  else synopsis.push(`[${italic('options')}]`, ...args.map(argumentTerm));
  out.push(synopsis.join(' '));
  if (cmd.aliases().length) out.push('.br', `(also ${cmd.aliases().map(bold).join(', ')})`);

  out.push('.SH DESCRIPTION', ...paragraphs(cmd.description() || summaryOf(cmd)));

  if (args.some((a) => a.description)) {
    out.push('.SH ARGUMENTS');
    for (const a of args) {
      out.push('.TP', italic(a.name()), line(sentence(a.description || '')));
      if (a.argChoices) out.push(`One of: ${a.argChoices.map(bold).join(', ')}.`);
    }
  }

  if (subs.length) {
    out.push('.SH COMMANDS');
    for (const sub of subs) {
      const usage = sub.usage().replace(/^\[options\]\s*/, '');
      const own = sub.parent === cmd && sub.name() !== 'help';
      out.push('.TP', `${bold(sub.name())}${usage ? ` ${esc(usage)}` : ''}`, line(sentence(summaryOf(sub), own ? ':' : '.')));
      if (own) out.push(`${bold(pageName(sub))}(1).`);
    }
  }

  const options = help.visibleOptions(cmd);
  const hasConfig = options.some((o) => o.long === '--config');
  if (options.length) {
    out.push('.SH OPTIONS');
    for (const o of options) {
      out.push('.TP', optionTerm(o), line(sentence(o.description)));
      const facts: string[] = [];
      if (o.argChoices) facts.push(`One of: ${o.argChoices.map(bold).join(', ')}.`);
      const d = defaultText(o);
      if (d !== undefined) facts.push(`Default: ${bold(d)}.`);
      if (o.variadic || /repeatable/.test(o.description)) facts.push('May be given more than once.');
      if (o.envVar) facts.push(`Environment: ${bold(o.envVar)}.`);
      if (hasConfig && o.long && o.long !== '--config' && o.long !== '--help' && !o.negate) {
        facts.push(`Configuration file: ${bold(`${o.long.replace(/^--/, '')} =`)}.`);
      }
      if (facts.length) out.push('.br', ...facts);
    }
  }

  if (hasConfig) {
    const configEnv = options.find((o) => o.long === '--config')?.envVar;
    out.push(
      '.SH CONFIGURATION FILE',
      '.PP',
      `With ${bold('--config')} ${italic('file')}${configEnv ? ` (or ${bold(configEnv)})` : ''}, settings are read from ${italic('file')}: one ${bold('name = value')} a line,`,
      `${italic('name')} being a long option without its dashes (${bold('port = 8443')}); a repeatable option on several lines;`,
      `a flag takes ${bold('true')} or ${bold('false')}; lines starting with ${bold('#')} are comments.`,
      'Each source overrides the one before it: the defaults, the file, the environment, the command line.',
    );
  }

  const after = parseAfterText(afterHelpText(cmd));
  for (const s of after.other) {
    out.push(`.SH ${esc(s.title.toUpperCase())}`, ...paragraphs(s.lines.join('\n')));
  }

  out.push('.SH EXIT STATUS');
  const exit = after.exitStatus ?? rootExitStatus(cmd);
  if (exit.text.length) out.push(...paragraphs(exit.text.join('\n')));
  for (const c of exit.codes) out.push('.TP', bold(c.code), line(sentence(c.text)));

  if (!cmd.parent) {
    out.push(
      '.SH ENVIRONMENT',
      '.TP',
      bold('NO_COLOR'),
      `No colour in the output (also off for ${bold('--json')} and when the output is not a terminal).`,
      '.TP',
      bold('QTSTATUS_*'),
      line("Every option of every command can also be set in the environment; each command's page names the variable."),
    );
  }

  if (after.examples.length) {
    out.push('.SH EXAMPLES');
    let block: string[] = [];
    const flush = () => {
      if (block.length) out.push('.PP', '.RS 4', '.EX', ...block.map((c) => line(c)), '.EE', '.RE');
      block = [];
    };
    for (const ex of after.examples) {
      if (ex.note) {
        flush();
        out.push('.PP', line(sentence(ex.note.replace(/^\((.*)\)$/, '$1'), ':').replace(/\.$/, ':')));
      }
      block.push(ex.command);
      if (ex.note) flush();
    }
    flush();
  }

  out.push('.SH SEE ALSO');
  const related = new Set<string>();
  if (cmd.parent) {
    related.add('qtstatus');
    related.add(pageName(cmd.parent));
  }
  for (const sub of cmd.commands) if (!(sub as unknown as { _hidden: boolean })._hidden) related.add(pageName(sub));
  related.delete(name);
  const see = [...related].map((r) => `${bold(r)}(1)`);
  out.push(see.length ? see.join(',\n') : `${bold('qtstatus')} \\-\\-help`);
  if (!cmd.parent) out.push('.PP', line('The documentation in /usr/share/doc/qtstatus; deploy.md there runs it as a service.'));
  return `${out.join('\n')}\n`;
}

/** A command that says nothing of its exit codes has the program's. */
function rootExitStatus(cmd: Command): { text: string[]; codes: Array<{ code: string; text: string }> } {
  let root = cmd;
  while (root.parent) root = root.parent;
  const fromRoot = parseAfterText(afterHelpText(root)).exitStatus;
  if (fromRoot && cmd !== root) return fromRoot;
  return fromRoot ?? { text: [], codes: [{ code: '0', text: 'success' }, { code: '1', text: 'failure' }, { code: '2', text: 'usage error' }] };
}

export function renderManPages(program: Command, opts: ManOptions): ManPage[] {
  return pageCommands(program).map((cmd) => ({ name: pageName(cmd), roff: renderManPage(cmd, opts) }));
}
