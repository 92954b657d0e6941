// Runs the real `bin/qtstatus` as a child process, as users do.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/qtstatus', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  /** Kill the child after this long; the result then has signal SIGKILL. */
  timeoutMs?: number;
  /** Run inside this network namespace (test/helpers/netns.ts). */
  netns?: string;
  /** Run as `[...wrap, ...args]` instead of `node bin/qtstatus …args` (wrap names node and the bin itself). */
  wrap?: string[];
}

/** A running `qtstatus`; output is collected from the start. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private readonly result: Promise<CliResult>;
  private waiters: Array<() => void> = [];

  constructor(args: string[], opts: CliOptions = {}) {
    const argv = [...(opts.wrap ?? [process.execPath, BIN]), ...args];
    if (opts.netns) argv.unshift('ip', 'netns', 'exec', opts.netns);
    this.child = spawn(argv[0] as string, argv.slice(1), {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
    });
    const wake = () => this.waiters.forEach((w) => w());
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => ((this.stdout += d), wake()));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => ((this.stderr += d), wake()));
    if (opts.input !== undefined) this.child.stdin.end(opts.input);
    else this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    this.result = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        wake();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves with the first match of `re` in stdout or stderr. */
  waitFor(stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(this[stream]);
        if (m) {
          done();
          resolve(m);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`qtstatus exited before ${re} appeared in ${stream}:\n${this.stdout}\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${re} in ${stream}; got:\n${this[stream]}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }

  done(): Promise<CliResult> {
    return this.result;
  }
}

/** Runs `qtstatus ...args` to completion. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new CliProcess(args, opts).done();
}
