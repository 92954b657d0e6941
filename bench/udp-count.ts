// The ceiling for any Node listener: a dgram receiver that only counts.
// Prints "listening on 127.0.0.1:PORT" on stderr, and {received} on SIGTERM.
import dgram from 'node:dgram';

let received = 0;
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: 8 * 1024 * 1024 });
socket.on('message', () => received++);
socket.bind(0, '127.0.0.1', () => process.stderr.write(`listening on 127.0.0.1:${socket.address().port}\n`));
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({ received }) + '\n');
  socket.close();
});
