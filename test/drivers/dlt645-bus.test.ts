/**
 * DL/T 645 over a socat pty pair (and a TCP port) against the meter simulator: two meters by
 * address on one line, error replies, follow-up frames, checksum errors, read-address.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Dlt645Bus } from '../../drivers/dlt645/bus.js';
import { encodeFrame, parseFrame } from '../../drivers/dlt645/frame.js';
import { Dlt645Poller } from '../../drivers/dlt645/poller.js';
import { builtinDlt645Profile } from './fixtures.js';
import type { Dlt645Profile } from '../../drivers/profiles/types.js';
import type { Dlt645BusConfig, Dlt645DeviceConfig } from '../../runtime/config/types.js';
import type { Reading } from '../../runtime/types.js';
import { Dlt645Server, fixedMeterValues } from '../../tools/simulator/dlt645-server.js';
import { havePeer } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';

const profile: Dlt645Profile = builtinDlt645Profile();
const A = '123456789012';
const B = '000102030425';
const ok = havePeer('socat');

const byPoint = (rs: Reading[]) => new Map(rs.map((r) => [r.point, r]));
const device = (address: string, id = `m${address}`): Dlt645DeviceConfig => ({ id, role: 'submeter', bus: 'line', address, profile: profile.id, pollIntervalMs: 1000 });

describe.skipIf(!ok)('DL/T 645 on a pty pair against the simulator', () => {
  let pty: PtyPair;
  let server: Dlt645Server | undefined;
  let bus: Dlt645Bus | undefined;
  const cfg = (): Dlt645BusConfig => ({ id: 'line', type: 'dlt645', path: pty.a, timeoutMs: 300 });

  beforeAll(async () => {
    pty = await new PtyPair().start();
  });
  afterEach(async () => {
    await bus?.close();
    await server?.close();
    bus = server = undefined;
  });
  afterAll(async () => {
    await pty?.dispose();
  });

  async function serve(opts: { maxDataPerFrame?: number } = {}, meters = [A, B]): Promise<Dlt645Server> {
    server = new Dlt645Server({ profile, meters: meters.map((address, n) => ({ address, values: fixedMeterValues(n) })), ...opts });
    await server.listenSerial(pty.b);
    bus = new Dlt645Bus(cfg());
    return server;
  }

  it('reads two meters on one line by their address, every point good and as served', async () => {
    const sim = await serve();
    const [a, b] = [new Dlt645Poller({ device: device(A), profile, bus: bus! }), new Dlt645Poller({ device: device(B), profile, bus: bus! })];
    const [ra, rb] = await Promise.all([a.pollOnce(), b.pollOnce()]);
    for (const [rs, n] of [[ra, 0], [rb, 1]] as const) {
      const m = byPoint(rs);
      const expected = fixedMeterValues(n);
      expect(rs.length).toBe(profile.points.length);
      for (const r of rs) expect({ point: r.point, quality: r.quality, value: r.value }).toEqual({ point: r.point, quality: 'good', value: expected[r.point] });
      expect(m.get('energy_import')).toMatchObject({ canonical: 'energy_import', unit: 'kWh' });
      expect(m.get('active_power')).toMatchObject({ canonical: 'active_power', unit: 'W' });
    }
    expect(byPoint(ra).get('energy_import')!.value).toBe(1206.42);
    expect(byPoint(rb).get('energy_import')!.value).toBe(2206.42);
    expect(byPoint(ra).get('power_factor_l3')!.value).toBe(-0.951);
    expect(byPoint(rb).get('voltage_l1')!.source).toBe(`dlt645://${pty.a}#${B}/02010100`);
    expect(sim.served.get(A)).toBe(profile.points.length);
    expect(sim.served.get(B)).toBe(profile.points.length);
    expect(a.stats).toMatchObject({ polls: 1, complete: 1, failed: 0 });
  });

  it('an error reply (D1h) marks that point bad with the decoded reason; the rest stay good and the meter is not backed off', async () => {
    const sim = await serve();
    sim.remove(A, 'voltage_l2');
    const p = new Dlt645Poller({ device: device(A), profile, bus: bus! });
    const m = byPoint(await p.pollOnce());
    expect(m.get('voltage_l2')).toMatchObject({ quality: 'comm-error', value: null });
    expect(m.get('voltage_l2')!.error).toBe(
      `device m${A} (meter ${A} on ${bus!.uri}) DI 02010200: error reply D1h: no requested data (the meter does not support this data identifier) (ERR 02h)`,
    );
    expect([...m.values()].filter((r) => r.quality === 'good').length).toBe(profile.points.length - 1);
    expect(bus!.stats.errorReplies).toBe(1);
    expect(bus!.stats.retries).toBe(0);
    expect(p.stats.failed).toBe(1);
  });

  it('joins a reply spread over follow-up frames (B1h, then 12h -> B2h/92h)', async () => {
    const sim = await serve({ maxDataPerFrame: 1 });
    const p = new Dlt645Poller({ device: device(B), profile, bus: bus! });
    const m = byPoint(await p.pollOnce());
    expect(m.get('energy_import')).toMatchObject({ quality: 'good', value: 2206.42 });
    expect(m.get('current_l1')).toMatchObject({ quality: 'good', value: 10.5 });
    // 4-byte energies take 4 frames, 3-byte values 3, 2-byte values 2: one request per frame.
    const frames = profile.points.reduce((n, q) => n + (q.format.replace('.', '').length / 2), 0);
    expect(sim.served.get(B)).toBe(frames);
  });

  it('a reply with a bad checksum is repeated; two in a row make the point bad and back the meter off', async () => {
    const sim = await serve();
    const p = new Dlt645Poller({ device: device(A), profile, bus: bus! });
    sim.corruptNext(1);
    const first = byPoint(await p.pollOnce());
    expect(first.get('energy_combined')).toMatchObject({ quality: 'good', value: 1206.42 });
    expect(bus!.stats).toMatchObject({ badFrames: 1, retries: 1 });

    sim.corruptNext(2);
    const second = await p.pollOnce();
    expect(second[0]).toMatchObject({ point: 'energy_combined', quality: 'comm-error', value: null });
    expect(second[0]!.error).toMatch(/DI 00000000: checksum error \(frame says [0-9A-F]{2}h, computed [0-9A-F]{2}h\)/);
    expect(second.slice(1).every((r) => r.quality === 'comm-error' && r.error!.startsWith('not read: '))).toBe(true);
    expect(bus!.stats).toMatchObject({ badFrames: 3, retries: 2 });
    expect(p.stats.failed).toBe(1);
  });

  it('a meter that is not on the line times out (after one repeat) without disturbing its neighbour', async () => {
    await serve();
    const ghost = new Dlt645Poller({ device: device('999999999998'), profile, bus: bus! });
    const real = new Dlt645Poller({ device: device(B), profile, bus: bus! });
    const [g, r] = await Promise.all([ghost.pollOnce(), real.pollOnce()]);
    expect(g[0]!.error).toMatch(/meter 999999999998 .* DI 00000000: no reply within 1000 ms/);
    expect(g.filter((x) => x.error?.startsWith('not read: ')).length).toBe(profile.points.length - 1);
    expect(r.every((x) => x.quality === 'good')).toBe(true);
    expect(bus!.stats.timeouts).toBe(2);
  });

  it('reads the address of the single meter on the line (13h to AAAAAAAAAAAA)', async () => {
    await serve({}, [A]);
    expect(await bus!.readAddress()).toBe(A);
  });
});

describe('DL/T 645 through a TCP serial converter', () => {
  it('reads a meter over a raw TCP socket (dlt645-tcp)', async () => {
    const server = new Dlt645Server({ profile, meters: [{ address: A, values: fixedMeterValues(3) }] });
    const port = await server.listenTcp();
    const bus = new Dlt645Bus({ id: 'conv', type: 'dlt645-tcp', host: '127.0.0.1', port });
    try {
      const m = byPoint(await new Dlt645Poller({ device: device(A), profile, bus }).pollOnce());
      expect(m.get('energy_import')).toMatchObject({ quality: 'good', value: 4206.42, source: `dlt645-tcp://127.0.0.1:${port}#${A}/00010000` });
    } finally {
      await bus.close();
      await server.close();
    }
  });
});

describe('replies that are not for this request', () => {
  it('a reply from another address, or for another data identifier, is not taken for the answer', async () => {
    // A line where whoever answers is the wrong meter (or a late reply): every request gets a
    // well-formed reply of meter B, then one of meter A for another DI.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('data', (d) => {
        const r = parseFrame(d);
        if (r.kind !== 'frame') return;
        s.write(encodeFrame({ address: B, control: 0x91, data: Buffer.concat([r.frame.data, Buffer.from([0x00, 0x01, 0x00, 0x00])]) }));
        s.write(encodeFrame({ address: A, control: 0x91, data: Buffer.from([0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00]) }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const bus = new Dlt645Bus({ id: 'x', type: 'dlt645-tcp', host: '127.0.0.1', port, timeoutMs: 200 });
    try {
      await expect(bus.readData(A, '00010000', { retries: 0 })).rejects.toThrow(/DI 00010000: no reply within 200 ms/);
    } finally {
      await bus.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
