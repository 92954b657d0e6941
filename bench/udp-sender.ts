// Sends valid status packets to a loopback port: at --rate packets/s, or as
// fast as it can with --rate max, for --seconds. Prints {sent, seconds}.
// Loopback only: the target is always 127.0.0.1.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { encode } from '../src/protocol/packet.ts';

const { values } = parseArgs({ options: { port: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' } } });
const port = Number(values.port);
const rate = values.rate === 'max' ? Infinity : Number(values.rate);
const seconds = Math.min(Number(values.seconds ?? 5), 30); // bounded
const packet = encode({ email: 'bench_user@qt-test.com', lastSeenNs: 1734700000123456789n, ip: '127.0.0.1', port: 50000 });

const socket = dgram.createSocket('udp4');
socket.connect(port, '127.0.0.1', () => {
  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0;
  let inFlight = 0;
  const onSent = () => inFlight--;
  const tick = () => {
    const now = performance.now();
    if (now >= end) return finish(now);
    // How many should have gone by now; catch up in one turn, capped so
    // the event loop still turns and callbacks run.
    const due = rate === Infinity ? sent + 256 : Math.floor(((now - start) / 1000) * rate);
    const limit = Math.min(due, sent + 1024);
    while (sent < limit && inFlight < 4096) {
      inFlight++;
      socket.send(packet, onSent);
      sent++;
    }
    setImmediate(tick);
  };
  const finish = (now: number) => {
    const wait = () => (inFlight > 0 ? setImmediate(wait) : done());
    const done = () => {
      process.stdout.write(JSON.stringify({ sent, seconds: (now - start) / 1000 }) + '\n');
      socket.close();
    };
    wait();
  };
  tick();
});
