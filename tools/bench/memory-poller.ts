/**
 * The baseline of the memory benchmark (tools/bench/memory.ts): the smallest useful poller, one
 * modbus-serial TCP client per meter reading the given register blocks every interval, decoding,
 * storing and sending nothing. It imports modbus-serial and nothing of the project.
 *
 *   node dist/tools/bench/memory-poller.js '{"ports":[...],"unitId":1,"intervalMs":1000,"blocks":[{"register":"input","start":0,"count":18}]}'
 *
 * Stops on SIGTERM/SIGINT.
 */
import modbusSerial from 'modbus-serial';

const ModbusRTU = modbusSerial.default;

interface PollerArgs {
  ports: number[];
  unitId: number;
  intervalMs: number;
  blocks: { register: 'input' | 'holding'; start: number; count: number }[];
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as PollerArgs;
  const clients = await Promise.all(
    args.ports.map(async (port) => {
      const c = new ModbusRTU();
      c.setTimeout(1000);
      await c.connectTCP('127.0.0.1', { port });
      c.setID(args.unitId);
      return c;
    }),
  );
  const timers = clients.map((c) => {
    let busy = false;
    return setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        for (const b of args.blocks) {
          if (b.register === 'input') await c.readInputRegisters(b.start, b.count);
          else await c.readHoldingRegisters(b.start, b.count);
        }
      })()
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, args.intervalMs);
  });
  const stop = () => {
    for (const t of timers) clearInterval(t);
    for (const c of clients) c.close(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`memory-poller: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
