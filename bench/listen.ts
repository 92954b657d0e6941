// npm run bench:listen — issue #2's listener benchmark, all on loopback.
// In one run, the same sender drives (a) a Node dgram receiver that only
// counts, the ceiling for any Node listener here, and (b) `qtstatus listen
// --json` writing to /dev/null; first at a fixed 50,000 packets/s for 10 s
// (goal: no loss), then at full speed (goal: b/a >= 0.6).
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const node = process.execPath;

interface Run {
  sent: number;
  received: number;
  seconds: number;
}

function output(child: ReturnType<typeof spawn>, stream: 'stdout' | 'stderr'): { text: () => string } {
  let text = '';
  child[stream]?.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text };
}

async function waitFor(get: () => string, re: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 200; i++) {
    const m = re.exec(get());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`receiver did not start: ${get()}`);
}

async function run(receiver: 'count' | 'listen', rate: string, seconds: number): Promise<Run> {
  const devnull = openSync('/dev/null', 'w');
  const child =
    receiver === 'count'
      ? spawn(node, [here('./udp-count.ts')], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(node, [here('../bin/qtstatus'), 'listen', '--host', '127.0.0.1', '--port', '0', '--json'], {
          stdio: ['ignore', devnull, 'pipe'],
          env: { ...process.env, NO_COLOR: '1' },
        });
  const err = output(child, 'stderr');
  const out = output(child, 'stdout');
  const port = (await waitFor(err.text, /listening on 127\.0\.0\.1:(\d+)/))[1] as string;
  const sender = spawn(node, [here('./udp-sender.ts'), '--port', port, '--rate', rate, '--seconds', String(seconds)]);
  const sent = output(sender, 'stdout');
  await new Promise((r) => sender.on('close', r));
  await new Promise((r) => setTimeout(r, 500)); // let the receiver drain its socket
  const closed = new Promise((r) => child.on('close', r));
  child.kill('SIGTERM');
  await closed;
  const s = JSON.parse(sent.text()) as { sent: number; seconds: number };
  const received =
    receiver === 'count'
      ? (JSON.parse(out.text()) as { received: number }).received
      : (JSON.parse(err.text().trim().split('\n').at(-1) ?? '{}') as { received: number }).received;
  return { sent: s.sent, received, seconds: s.seconds };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pps = (r: Run) => r.received / r.seconds;
const line = (name: string, r: Run) =>
  `  ${name.padEnd(30)} sent ${fmt(r.sent).padStart(9)}  received ${fmt(r.received).padStart(9)}  ` +
  `lost ${fmt(r.sent - r.received).padStart(8)}  ${fmt(pps(r)).padStart(8)} packets/s`;
const median = (runs: Run[]) => [...runs].sort((x, y) => pps(x) - pps(y))[Math.floor(runs.length / 2)] as Run;

console.log('qtstatus listen benchmark (loopback only, valid 43-byte packets)\n');
console.log('fixed rate: 50,000 packets/s for 10 s (goal: no loss)');
const fixedA = await run('count', '50000', 10);
console.log(line('(a) node dgram, count only', fixedA));
const fixedB = await run('listen', '50000', 10);
console.log(line('(b) qtstatus listen --json', fixedB));

// Full speed is noisy on two cores (sender, receiver and the kernel share
// them), so (a) and (b) alternate over three rounds and the medians count.
console.log('\nfull speed, 3 rounds of 4 s each, alternating (goal: b/a >= 0.6)');
const fullA: Run[] = [];
const fullB: Run[] = [];
for (let round = 1; round <= 3; round++) {
  fullA.push(await run('count', 'max', 4));
  console.log(line(`(a) node dgram, round ${round}`, fullA.at(-1) as Run));
  fullB.push(await run('listen', 'max', 4));
  console.log(line(`(b) qtstatus listen, round ${round}`, fullB.at(-1) as Run));
}
const a = median(fullA);
const b = median(fullB);
console.log(`\nmedian at full speed: (a) ${fmt(pps(a))} packets/s, (b) ${fmt(pps(b))} packets/s`);
console.log(`ratio b/a at full speed: ${(pps(b) / pps(a)).toFixed(2)} (goal >= 0.60)`);
console.log(`loss at 50,000 packets/s for 10 s: (a) ${fixedA.sent - fixedA.received}, (b) ${fixedB.sent - fixedB.received} (goal 0)`);
