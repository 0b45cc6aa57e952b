import net, { type AddressInfo } from 'node:net';

/**
 * A TCP port that is free on `host` right now (for servers such as modbus-serial's ServerTCP,
 * which treats port 0 as 502, and for peers started as separate processes).
 */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
