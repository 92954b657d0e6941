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

/** Removes and returns the first packet for `email`, waiting up to ~2 s for it. */
export async function takePacket(sink: PacketSink, email: string): Promise<StatusPacket> {
  for (let i = 0; i < 100; i++) {
    const at = sink.packets.findIndex((p) => p.email === email);
    if (at >= 0) return sink.packets.splice(at, 1)[0] as StatusPacket;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no status packet for ${email}`);
}
