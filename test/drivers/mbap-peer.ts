import net from 'node:net';

/**
 * A minimal Modbus TCP device written from the spec (not modbus-serial): answers FC03/FC04 for
 * any unit with register value = unit * 1000 + address. Units can be made silent (no reply at
 * all, like a dead device behind a gateway) and back, at run time. Counts what it receives.
 */
export interface MbapPeer {
  port: number;
  /** Requests received, by unit id (answered or not). */
  requests: Map<number, number>;
  /** Requests received while their unit was silent, by unit id. */
  ignored: Map<number, number>;
  /** Units that get no reply. */
  silent: Set<number>;
  connections: number;
  /** Every request received, in order. */
  log: Array<{ unit: number; fc: number; address: number; count: number }>;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:`port` (default: a random free port). */
export async function startMbapPeer(port = 0): Promise<MbapPeer> {
  const sockets = new Set<net.Socket>();
  const peer: MbapPeer = {
    port: 0,
    requests: new Map(),
    ignored: new Map(),
    silent: new Set(),
    connections: 0,
    log: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const bump = (m: Map<number, number>, unit: number) => m.set(unit, (m.get(unit) ?? 0) + 1);
  const server = net.createServer((sock) => {
    peer.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let rx = Buffer.alloc(0);
    sock.on('data', (d) => {
      rx = Buffer.concat([rx, d]);
      while (rx.length >= 12) {
        const req = rx.subarray(0, 12);
        rx = rx.subarray(12);
        const unit = req[6]!;
        const fc = req[7]!;
        bump(peer.requests, unit);
        const entry: MbapPeer['log'][number] = { unit, fc, address: req.readUInt16BE(8), count: req.readUInt16BE(10) };
        peer.log.push(entry);
        if (peer.silent.has(unit)) {
          bump(peer.ignored, unit);
          continue;
        }
        const addr = req.readUInt16BE(8);
        const count = req.readUInt16BE(10);
        let out: Buffer;
        if (fc === 3 || fc === 4) {
          out = Buffer.alloc(9 + 2 * count);
          out.writeUInt16BE(3 + 2 * count, 4);
          out[8] = 2 * count;
          for (let i = 0; i < count; i++) out.writeUInt16BE((unit * 1000 + addr + i) & 0xffff, 9 + 2 * i);
        } else {
          out = Buffer.alloc(9); // exception 01 illegal function
          out.writeUInt16BE(3, 4);
          out[8] = 1;
        }
        req.copy(out, 0, 0, 4); // transaction id, protocol id
        out[6] = unit;
        out[7] = fc === 3 || fc === 4 ? fc : fc | 0x80;
        sock.write(out);
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  peer.port = (server.address() as net.AddressInfo).port;
  return peer;
}
