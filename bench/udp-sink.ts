// The UDP target for bench/serve.ts: a loopback port that is bound but never
// read. The kernel queues the server's packets until the buffer is full and
// then drops them, so each packet costs the sender what it costs on a real
// network (a socket to deliver to), while no reader takes CPU from the two
// cores the server and the load generator share. A port nobody binds would
// be wrong the other way: on loopback it draws an ICMP port-unreachable for
// every packet (Linux does not rate-limit ICMP on lo), a kernel cost no
// deployment pays (a broadcast never draws one).
import dgram from 'node:dgram';
import { writeSync } from 'node:fs';

const socket = dgram.createSocket('udp4');
socket.bind(0, '127.0.0.1', () => {
  writeSync(1, `${socket.address().port}\n`);
  // Block the only thread, so the event loop never reads the socket; bounded
  // in case the benchmark dies without stopping us.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15 * 60_000);
  process.exit(0);
});
