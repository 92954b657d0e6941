// Every option also from the environment, and `--config FILE` (issue #13):
// settings like infrastructure, in this order, each overriding the one
// before: defaults < config file < environment < flags.
//
// The environment: QTSTATUS_<OPTION> for `serve` and for --db everywhere
// (QTSTATUS_PORT, QTSTATUS_UDP_TARGET, QTSTATUS_DB), QTSTATUS_<COMMAND>_<OPTION>
// for the other commands (QTSTATUS_LISTEN_PORT, QTSTATUS_PING_INTERVAL), so
// one shell's settings for one command never steer another. A list takes
// commas: QTSTATUS_UDP_TARGET=127.0.0.1:6667,[::1]:6667.
//
// The file: `name = value` lines, `name` a long option without its dashes,
// `#` comments, a repeatable option on several lines (or with commas); a
// flag takes true/false/yes/no/on/off/1/0 (also in the environment).

import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { ErrorCodes, QtError } from '../errors.ts';

const upperSnake = (text: string) => text.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();

/** The command names below the program: ["certs", "client"] for `qtstatus certs client`. */
function path(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

export function envName(cmd: Command, option: Option): string {
  const name = upperSnake(option.attributeName());
  const names = path(cmd);
  if (names[0] === 'serve' || name === 'DB') return `QTSTATUS_${name}`;
  return `QTSTATUS_${[...names.map(upperSnake), name].join('_')}`;
}

const SKIP = new Set(['help', 'version']);

/** The options that take a variable: not --help, and of a --x/--no-x pair only --x. */
function settable(cmd: Command): Option[] {
  const longs = new Set(cmd.options.map((o) => o.long));
  return cmd.options.filter((o) => !SKIP.has(o.attributeName()) && !(o.negate && longs.has(o.long?.replace(/^--no-/, '--'))));
}

/**
 * Names every option's environment variable, which --help shows. Commander
 * reads variables only for options that had one when they were added, so
 * ./main.ts applies them itself (applyEnvironment), after the config file.
 */
export function addEnvironment(program: Command): void {
  const visit = (cmd: Command) => {
    for (const option of settable(cmd)) if (option.envVar === undefined) option.env(envName(cmd, option));
    cmd.commands.forEach(visit);
  };
  program.commands.forEach(visit);
}

/** Sets, from `env`, every option of `cmd` that no flag set. */
export function applyEnvironment(cmd: Command, env: Record<string, string | undefined>): void {
  for (const option of settable(cmd)) {
    const name = option.envVar;
    const value = name === undefined ? undefined : env[name];
    if (value === undefined || cmd.getOptionValueSource(option.attributeName()) === 'cli') continue;
    set(cmd, option, value, `the environment variable ${name}`, undefined, 'env');
  }
}

const TRUE = new Set(['true', 'yes', 'on', '1', '']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/** One value through the option's own parser, so a bad one is refused as on the command line. */
function set(cmd: Command, option: Option, value: string | undefined, where: string, previous: unknown, source: 'env' | 'config'): unknown {
  let parsed: unknown;
  try {
    if (option.isBoolean()) {
      const v = (value ?? '').toLowerCase();
      if (!TRUE.has(v) && !FALSE.has(v)) throw new InvalidArgumentError(`"${value}" is not true or false`);
      parsed = TRUE.has(v) !== option.negate;
    } else {
      if (value === undefined) throw new InvalidArgumentError('needs a value');
      parsed = option.parseArg ? option.parseArg(value, previous as never) : value;
    }
  } catch (err) {
    throw new QtError(ErrorCodes.USAGE, `${where}: ${option.long?.replace(/^--/, '')}: ${(err as Error).message}`);
  }
  cmd.setOptionValueWithSource(option.attributeName(), parsed, source);
  return parsed;
}

export interface ConfigLine {
  line: number;
  name: string;
  value: string | undefined;
}

/** The `name = value` lines of a config file; an unreadable file or a line that is neither is a usage error. */
export function readConfig(file: string): ConfigLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new QtError(ErrorCodes.FILE, `cannot read the config file ${file}`, { cause: err });
  }
  const lines: ConfigLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\uFEFF/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (!m) throw new QtError(ErrorCodes.USAGE, `${file} line ${i + 1} is not "name = value": ${JSON.stringify(raw.slice(0, 80))}`);
    lines.push({ line: i + 1, name: m[1] as string, value: m[2]?.replace(/^"(.*)"$/, '$1') });
  });
  return lines;
}

/**
 * Applies a config file's lines to the options of `cmd` that no flag set.
 * Values go through each option's own parser, with the file and line named.
 */
export function applyConfig(cmd: Command, file: string, lines: ConfigLine[]): void {
  const byName = new Map(cmd.options.filter((o) => o.long).map((o) => [(o.long as string).replace(/^--(no-)?/, ''), o]));
  const seen = new Map<string, unknown>();
  for (const { line, name, value } of lines) {
    const option = byName.get(name);
    const where = `${file} line ${line}`;
    if (!option || name === 'config' || SKIP.has(name)) {
      throw new QtError(ErrorCodes.USAGE, `${where}: "${name}" is not a setting of qtstatus ${path(cmd).join(' ')}`, {
        hint: `the settings are its long options without the dashes: qtstatus ${path(cmd).join(' ')} --help`,
      });
    }
    const key = option.attributeName();
    if (cmd.getOptionValueSource(key) === 'cli') continue; // flags win
    seen.set(key, set(cmd, option, value, where, seen.get(key), 'config'));
  }
}

/** Before a command runs: its config file (--config, or its variable), then the environment over it. */
export function settle(cmd: Command, env: Record<string, string | undefined>): void {
  const option = cmd.options.find((o) => o.long === '--config');
  const file = cmd.getOptionValueSource('config') === 'cli' ? (cmd.opts().config as string) : option?.envVar ? env[option.envVar] : undefined;
  if (file) applyConfig(cmd, file, readConfig(file));
  applyEnvironment(cmd, env);
}
