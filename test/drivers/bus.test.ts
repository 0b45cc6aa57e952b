import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../../drivers/modbus/backoff.js';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { ModbusFrameError, ModbusTimeoutError } from '../../drivers/modbus/errors.js';
import { FAKE_TIMEOUTS, expectPausesOnFakeTime } from '../helpers/fake-pauses.js';

/**
 * A minimal Modbus TCP peer written from the spec (not modbus-serial): answers FC03 with
 * register value = unit * 1000 + address, after `delayMs` (0: at once, without a timer, so it
 * also answers under fake timers), and records what the bus does.
 */
async function mbapPeer(opts: { delayMs?: number; script?: (n: number, req: Buffer) => Buffer | 'silent' | undefined } = {}) {
  const stats = { inFlight: 0, maxInFlight: 0, requests: 0, connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    stats.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let rx = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      rx = Buffer.concat([rx, d]);
      while (rx.length >= 12) {
        const req = rx.subarray(0, 12);
        rx = rx.subarray(12);
        const n = ++stats.requests;
        stats.inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
        const scripted = opts.script?.(n, req);
        const reply = () => {
          stats.inFlight--;
          if (scripted === 'silent') return;
          if (scripted) {
            sock.write(scripted);
            return;
          }
          const unit = req[6]!;
          const addr = req.readUInt16BE(8);
          const count = req.readUInt16BE(10);
          const out = Buffer.alloc(9 + 2 * count);
          req.copy(out, 0, 0, 4); // transaction id, protocol id
          out.writeUInt16BE(3 + 2 * count, 4);
          out[6] = unit;
          out[7] = 3;
          out[8] = 2 * count;
          for (let i = 0; i < count; i++) out.writeUInt16BE((unit * 1000 + addr + i) & 0xffff, 9 + 2 * i);
          sock.write(out);
        };
        const delayMs = opts.delayMs ?? 5;
        if (delayMs > 0) setTimeout(reply, delayMs);
        else reply();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    stats,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
    server,
  };
}

describe('ModbusBus queue', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('never has two transactions on the wire at once', async () => {
    const peer = await mbapPeer({ delayMs: 5 });
    cleanups.push(peer.close);
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: peer.port, interRequestDelayMs: 15 });
    cleanups.push(() => bus.close());
    const reads = [];
    for (let unit = 1; unit <= 12; unit++) reads.push(bus.read(unit, 'holding', 7, 2, { timeoutMs: 1000 }));
    const results = (await Promise.all(reads)) as number[][];
    results.forEach((words, i) => expect(words).toEqual([(i + 1) * 1000 + 7, (i + 1) * 1000 + 8]));
    expect(peer.stats.requests).toBe(12);
    expect(peer.stats.maxInFlight).toBe(1);
  });

  it('pauses the bus inter-request delay after every reply (fake time)', async () => {
    const peer = await mbapPeer({ delayMs: 0 });
    cleanups.push(peer.close);
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: peer.port, interRequestDelayMs: 15 });
    cleanups.push(() => bus.close());
    expect(await bus.connect()).toBe(true);
    vi.useFakeTimers(FAKE_TIMEOUTS);
    const reads = [];
    for (let unit = 1; unit <= 12; unit++) reads.push(bus.read(unit, 'holding', 7, 2, { timeoutMs: 1000 }));
    const all = Promise.all(reads);
    all.catch(() => undefined); // a failed check below leaves reads for the cleanup to reject
    // Every request after the first waits the delay after the previous reply: not 14 ms, 15.
    await expectPausesOnFakeTime(() => peer.stats.requests, 12, 15);
    vi.useRealTimers();
    const results = (await all) as number[][];
    results.forEach((words, i) => expect(words).toEqual([(i + 1) * 1000 + 7, (i + 1) * 1000 + 8]));
  });

  it('a garbage reply on TCP is a frame error; the bus reconnects and the next read is correct', async () => {
    const peer = await mbapPeer({
      script: (n, req) => {
        if (n !== 1) return undefined;
        // Right transaction id, function 03, but a byte count that does not match the length.
        const bad = Buffer.from([0, 0, 0, 0, 0, 5, req[6]!, 3, 9, 0xde, 0xad]);
        req.copy(bad, 0, 0, 2);
        return bad;
      },
    });
    cleanups.push(peer.close);
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: peer.port });
    cleanups.push(() => bus.close());
    const err = await bus.read(1, 'holding', 0, 4, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusFrameError);
    expect(await bus.read(1, 'holding', 0, 2, { timeoutMs: 500 })).toEqual([1000, 1001]);
    expect(peer.stats.connections).toBe(2);
  });

  it('after a timeout on TCP a late reply is dropped (transaction ids) and the next read is right', async () => {
    const slow = await mbapPeer({ delayMs: 300 });
    cleanups.push(slow.close);
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: slow.port });
    cleanups.push(() => bus.close());
    const err = await bus.read(1, 'holding', 0, 1, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusTimeoutError);
    // The late reply (address 0 -> 1000) arrives while this request (address 5) waits.
    expect(await bus.read(1, 'holding', 5, 1, { timeoutMs: 1000 })).toEqual([1005]);
  });
});

describe('ModbusBus on a half-open TCP connection', () => {
  it('replaces a connection on which nothing answers any more', async () => {
    let silent = false;
    const peer = await mbapPeer({ script: () => (silent ? 'silent' : undefined) });
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: peer.port });
    try {
      expect(await bus.read(1, 'holding', 0, 1, { timeoutMs: 500 })).toEqual([1000]);
      silent = true;
      for (let i = 0; i < 3; i++) await expect(bus.read(1, 'holding', 0, 1, { timeoutMs: 80 })).rejects.toBeInstanceOf(ModbusTimeoutError);
      expect(peer.stats.connections).toBe(1);
      silent = false;
      expect(await bus.read(2, 'holding', 3, 1, { timeoutMs: 500 })).toEqual([2003]);
      expect(peer.stats.connections).toBe(2);
    } finally {
      await bus.close();
      await peer.close();
    }
  });
});

describe('Backoff', () => {
  it('doubles per failure, is capped, jittered within bounds, and resets', () => {
    const seq = [0, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    let i = 0;
    const b = new Backoff({ baseMs: 1000, maxMs: 8000, jitter: 0.2, random: () => seq[i++ % seq.length]! });
    expect(b.fail()).toBe(800); // 1000 * (1 - 0.2)
    expect(b.fail()).toBe(2400); // 2000 * 1.2
    expect(b.fail()).toBe(4000);
    expect(b.fail()).toBe(8000);
    expect(b.fail()).toBe(8000); // capped
    expect(b.failures).toBe(5);
    b.reset();
    expect(b.fail()).toBe(1000);
    const r = new Backoff({ baseMs: 100, maxMs: 1000, jitter: 0.5 });
    for (let k = 0; k < 50; k++) {
      const d = r.fail();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});
