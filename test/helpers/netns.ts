// Network namespaces that a test makes for itself, so broadcast and
// multicast can be tested without a packet reaching the real network.
// Inside: loopback and a veth pair (10.77.0.1/24 and 10.77.0.2/24) with the
// default route on it. Needs root and iproute2; `netnsSupport` says why not.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function probe(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) is not installed';
  }
  return undefined;
}

/** undefined when namespaces can be used, else the reason to skip. */
export const netnsUnavailable = probe();

export interface Netns {
  name: string;
  /** Runs a command inside the namespace to completion. */
  exec(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  remove(): void;
}

export function createNetns(): Netns {
  const name = `qt-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  ip('netns', 'add', name);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('-n', name, 'addr', 'add', '10.77.0.1/24', 'dev', 'v0');
    ip('-n', name, 'addr', 'add', '10.77.0.2/24', 'dev', 'v1');
    ip('-n', name, 'link', 'set', 'v0', 'up');
    ip('-n', name, 'link', 'set', 'v1', 'up');
    ip('-n', name, 'route', 'add', 'default', 'dev', 'v0');
  } catch (err) {
    ip('netns', 'del', name);
    throw err;
  }
  return {
    name,
    exec(cmd, args) {
      return new Promise((resolve) => {
        const child = spawn('ip', ['netns', 'exec', name, cmd, ...args]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    remove() {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    },
  };
}
