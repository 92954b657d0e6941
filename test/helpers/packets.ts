// A UDP socket on 127.0.0.1 that collects the status packets `qtstatus serve`
// announces: the one --udp-target tests may give it.
import dgram from 'node:dgram';
import { decode, type StatusPacket } from '../../src/protocol/packet.ts';

export interface PacketSink {
  port: number;
  /** Every valid packet received, in order. */
  packets: StatusPacket[];
  close(): void;
}

export async function packetSink(): Promise<PacketSink> {
  const socket = dgram.createSocket('udp4');
  const packets: StatusPacket[] = [];
  socket.on('message', (m) => {
    const r = decode(m);
    if (r.ok) packets.push(r.packet);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, packets, close: () => socket.close() };
}
