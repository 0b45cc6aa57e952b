import { SerialPort } from 'serialport';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller, type DevicePollerOptions } from '../../drivers/modbus/device-poller.js';
import type { Profile } from '../../drivers/profiles/types.js';
import type { BusConfig } from '../../runtime/config/types.js';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { Reading } from '../../runtime/types.js';
import { recordReads } from '../helpers/bus-requests.js';
import { freePort, havePeer, waitFor } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';
import { PymodbusServer } from '../helpers/pymodbus.js';
import { siteConfig, testMeter, testMeterImage } from './fixtures.js';

const ok = havePeer('pymodbus', 'socat');

const byPoint = (rs: Reading[]) => Object.fromEntries(rs.map((r) => [r.point, r]));

interface PollerOpts {
  id?: string;
  pollIntervalMs?: number;
  hub?: ReadingsHub;
  profile?: Profile;
  timeoutMs?: number;
  backoff?: DevicePollerOptions['backoff'];
  random?: () => number;
}

function makePoller(bus: ModbusBus, unitId: number, opts: PollerOpts = {}) {
  const device = siteConfig(bus.cfg, [
    { id: opts.id ?? `meter${unitId}`, unitId, pollIntervalMs: opts.pollIntervalMs ?? 200, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) },
  ]).devices[0]!;
  return new DevicePoller({ device, profile: opts.profile ?? testMeter, bus, hub: opts.hub, backoff: opts.backoff, random: opts.random });
}

describe.runIf(ok)('faults on Modbus TCP (pymodbus peer)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('exception 02 from a filler register marks only that block bad; the block is retried', async () => {
    const port = await freePort();
    const image = testMeterImage();
    delete image.input![5]; // filler inside the planned input 0..13 read
    const server = await new PymodbusServer({ mode: 'tcp', port, units: { 1: image } }).start();
    cleanups.push(() => server.stop());
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port, timeoutMs: 500 });
    cleanups.push(() => bus.close());
    const poller = makePoller(bus, 1);
    const first = byPoint(await poller.pollOnce());
    for (const id of ['voltage_l1', 'active_power']) {
      expect(first[id]!.quality).toBe('comm-error');
      expect(first[id]!.value).toBeNull();
      expect(first[id]!.error).toMatch(/unit 1 .* input 0\.\.13: exception 02 illegal data address/);
    }
    for (const id of ['energy_import', 'frequency', 'temperature', 'setpoint', 'relay']) expect(first[id]!.quality, id).toBe('good');
    // The device answered: it is not backed off, and the next poll retries the block.
    expect(poller.backedOff).toBeUndefined();
    await server.control({ set: { unit: 1, register: 'input', address: 5, values: [0] } });
    const second = byPoint(await poller.pollOnce());
    expect(second.voltage_l1!.quality).toBe('good');
    expect(second.voltage_l1!.value as number).toBeCloseTo(230.5, 3);
  });

  it('a device that disappears and returns (server stopped, restarted on the same port) is read again', async () => {
    const port = await freePort();
    const spec = { mode: 'tcp' as const, port, units: { 1: testMeterImage() } };
    let server = await new PymodbusServer(spec).start();
    cleanups.push(() => server.stop());
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port, timeoutMs: 300 }, { reconnect: { baseMs: 50, maxMs: 200 } });
    cleanups.push(() => bus.close());
    const hub = new ReadingsHub();
    // Backoff short enough for a test (the default is 1 s doubling to 5 min).
    const poller = makePoller(bus, 1, { pollIntervalMs: 100, hub, backoff: { baseMs: 100 } });
    poller.start();
    cleanups.push(() => poller.stop());
    await waitFor(() => hub.latest('meter1', 'voltage_l1')?.quality === 'good', 10000, 'first good read');
    await server.stop();
    await waitFor(() => hub.latest('meter1', 'voltage_l1')?.quality === 'comm-error', 10000, 'comm-error after the device vanished');
    expect(hub.latest('meter1', 'voltage_l1')!.error).toMatch(/unit 1 on modbus-tcp:\/\/127\.0\.0\.1:\d+/);
    const failedWhileDown = poller.stats.failed;
    expect(failedWhileDown).toBeGreaterThan(0);
    server = await new PymodbusServer(spec).start();
    await waitFor(() => hub.latest('meter1', 'voltage_l1')?.quality === 'good', 15000, 'good reads after the device returned');
    expect(bus.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(poller.backedOff).toBeUndefined();
  });
});

describe.runIf(ok)('faults on RTU over TCP (serial device server, pymodbus peer)', () => {
  it('a converter that restarts (socket gone, then back on the same port) is reconnected and read again', async () => {
    const port = await freePort();
    const spec = { mode: 'rtu-over-tcp' as const, port, units: { 5: testMeterImage() } };
    let server = await new PymodbusServer(spec).start();
    const bus = new ModbusBus({ id: 'gw', type: 'rtu-over-tcp', host: '127.0.0.1', port, timeoutMs: 300 }, { reconnect: { baseMs: 50, maxMs: 200 } });
    const hub = new ReadingsHub();
    const poller = makePoller(bus, 5, { pollIntervalMs: 100, hub, backoff: { baseMs: 100, maxMs: 400 } });
    try {
      poller.start();
      await waitFor(() => hub.latest('meter5', 'voltage_l1')?.quality === 'good', 10000, 'first good read');
      await server.stop();
      await waitFor(() => hub.latest('meter5', 'voltage_l1')?.quality === 'comm-error', 10000, 'comm-error after the converter went away');
      expect(hub.latest('meter5', 'voltage_l1')!.error).toMatch(new RegExp(`device meter5 \\(unit 5 on modbus-rtu-over-tcp://127\\.0\\.0\\.1:${port}\\)`));
      const reconnectsBefore = bus.stats.reconnects;
      server = await new PymodbusServer(spec).start();
      await waitFor(() => hub.latest('meter5', 'voltage_l1')?.quality === 'good', 15000, 'good reads after the converter returned');
      expect(hub.latest('meter5', 'voltage_l1')!.value as number).toBeCloseTo(230.5, 3);
      expect(bus.stats.reconnects).toBeGreaterThan(reconnectsBefore);
    } finally {
      await poller.stop();
      await bus.close();
      await server.stop();
    }
  });
});

describe.runIf(ok)('faults on Modbus RTU (socat pty pair)', () => {
  let pty: PtyPair;
  const cleanups: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    pty = await new PtyPair().start();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await pty?.dispose();
  });
  const busCfg = (id = 'rs485', path = pty.a): BusConfig => ({ id, type: 'rtu', path, baudRate: 9600, parity: 'none', timeoutMs: 300 });

  it('healthy devices keep their poll rate while a neighbour on the same bus is dead', async () => {
    // A control device polled at the same interval on a line of its own, in the same run: machine
    // load slows both alike, so the comparison is between counts, not against wall time.
    const pty2 = await new PtyPair().start();
    cleanups.push(() => pty2.dispose());
    const [server, controlServer] = await Promise.all([
      new PymodbusServer({ mode: 'rtu', device: pty.b, units: { 1: testMeterImage(), 2: testMeterImage(), 3: testMeterImage() }, silent: [3] }).start(),
      new PymodbusServer({ mode: 'rtu', device: pty2.b, units: { 1: testMeterImage() } }).start(),
    ]);
    cleanups.push(() => server.stop());
    cleanups.push(() => controlServer.stop());
    const bus = new ModbusBus(busCfg());
    cleanups.push(() => bus.close());
    const controlBus = new ModbusBus(busCfg('control', pty2.a));
    cleanups.push(() => controlBus.close());
    const hub = new ReadingsHub();
    // The dead unit's timeout (150 ms) is shorter than the poll interval (300 ms): while it is
    // on the wire it delays a healthy cycle but must not cost one.
    const interval = 300;
    const healthy = [makePoller(bus, 1, { pollIntervalMs: interval, hub }), makePoller(bus, 2, { pollIntervalMs: interval, hub })];
    // Jitter pinned to none (random 0.5), so the dead device's backoff is exactly 1 s, 2 s, 4 s...
    const dead = makePoller(bus, 3, { pollIntervalMs: interval, hub, timeoutMs: 150, random: () => 0.5 });
    const control = makePoller(controlBus, 1, { id: 'control', pollIntervalMs: interval });
    const all = [...healthy, dead, control];
    const deadReads = recordReads(bus);
    for (const p of all) p.start();
    cleanups.push(async () => {
      for (const p of all) await p.stop();
    });
    await waitFor(() => control.stats.complete >= 12, 30_000, 'control polls');
    for (const p of all) await p.stop();
    for (const p of healthy) {
      expect(p.stats.failed, p.device.id).toBe(0);
      // At most the cycle in progress when the pollers were stopped one after another differs.
      expect(p.stats.complete, `${p.device.id} polls vs control ${control.stats.complete}`).toBeGreaterThanOrEqual(control.stats.complete - 2);
    }
    // Backed off (1 s, doubling): without backoff the dead device would be sent one request per
    // cycle, as many as the control's cycles in the same run; with it, a handful. Each attempt
    // abandons its cycle after the first unanswered request.
    expect(dead.stats.requests).toBeGreaterThanOrEqual(1);
    expect(dead.stats.requests, `dead requests vs control cycles ${control.stats.complete}`).toBeLessThanOrEqual(control.stats.complete / 2);
    expect(dead.stats.polls).toBe(dead.stats.requests);
    // Request n+1 was queued no sooner than the n-th backoff (1000 * 2^(n-1) ms) after request n
    // (monotonic time: a lower bound that a slow machine only widens).
    const at = deadReads.filter((r) => r.device === 'meter3').map((r) => r.at);
    expect(at).toHaveLength(dead.stats.requests);
    at.slice(1).forEach((t, n) => expect(t - at[n]!, `backoff before request ${n + 2}`).toBeGreaterThanOrEqual(1000 * 2 ** n));
    expect(hub.latest('meter3', 'voltage_l1')!.quality).toBe('comm-error');
    expect(hub.latest('meter3', 'voltage_l1')!.error).toMatch(/unit 3 on modbus-rtu:\/\/.* no reply within 150 ms/);
  });

  it('garbage and CRC-broken frames mark values bad, then the device is read again', async () => {
    // A raw peer on the other end of the line: answers with noise, then a frame with a broken
    // CRC, then a correct reply.
    const peer = new SerialPort({ path: pty.b, baudRate: 9600, autoOpen: false });
    await new Promise<void>((res, rej) => peer.open((e) => (e ? rej(e) : res())));
    cleanups.push(() => new Promise<void>((r) => peer.close(() => r())));
    let rx = Buffer.alloc(0);
    let served = 0;
    peer.on('data', (d: Buffer) => {
      rx = Buffer.concat([rx, d]);
      while (rx.length >= 8) {
        const req = rx.subarray(0, 8);
        rx = rx.subarray(8);
        const unit = req[0]!;
        const fc = req[1]!;
        const count = req.readUInt16BE(4);
        const body = Buffer.alloc(3 + 2 * count);
        body[0] = unit;
        body[1] = fc;
        body[2] = 2 * count;
        for (let i = 0; i < count; i++) body.writeUInt16BE(4242, 3 + 2 * i);
        const frame = Buffer.concat([body, crc(body)]);
        served++;
        if (served === 1) peer.write(Buffer.from([0xff, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x55, 0xaa, 0x00]));
        else if (served === 2) {
          frame[frame.length - 1]! ^= 0xff;
          peer.write(frame);
        } else peer.write(frame);
      }
    });
    const profile: Profile = {
      ...testMeter,
      id: 'one-register',
      points: [{ id: 'value', register: 'holding', address: 0, type: 'u16' }],
    };
    const bus = new ModbusBus(busCfg());
    cleanups.push(() => bus.close());
    const poller = makePoller(bus, 1, { profile });
    const r1 = (await poller.pollOnce())[0]!;
    expect(r1.quality).toBe('comm-error');
    expect(r1.error).toMatch(/no reply within 400 ms/); // noise is not a reply (profile timeout 400 ms)
    // (the noise-and-timeout backs the device off; a direct pollOnce still runs)
    const r2 = (await poller.pollOnce())[0]!;
    expect(r2.quality).toBe('comm-error');
    expect(r2.error).toMatch(/bad reply: CRC error/);
    const r3 = (await poller.pollOnce())[0]!;
    expect(r3.quality, r3.error).toBe('good');
    expect(r3.value).toBe(4242);
    expect(served).toBe(3);
  });

  it('the serial port vanishing and reappearing (adapter unplugged and replugged) is survived', async () => {
    let server = await new PymodbusServer({ mode: 'rtu', device: pty.b, units: { 1: testMeterImage() } }).start();
    cleanups.push(() => server.stop());
    const bus = new ModbusBus(busCfg(), { reconnect: { baseMs: 50, maxMs: 200 } });
    cleanups.push(() => bus.close());
    const hub = new ReadingsHub();
    const poller = makePoller(bus, 1, { pollIntervalMs: 100, hub, backoff: { baseMs: 100, maxMs: 400 } });
    poller.start();
    cleanups.push(() => poller.stop());
    await waitFor(() => hub.latest('meter1', 'voltage_l1')?.quality === 'good', 10000, 'first good read');
    // Unplug: the pty pair and the device's end go away.
    await server.stop();
    await pty.stop();
    await waitFor(() => hub.latest('meter1', 'voltage_l1')?.quality === 'comm-error', 10000, 'comm-error after unplug');
    const reconnectsBefore = bus.stats.reconnects;
    await new Promise((r) => setTimeout(r, 500)); // a few failed reopen attempts
    // Replug: same path again, device back.
    await pty.start();
    server = await new PymodbusServer({ mode: 'rtu', device: pty.b, units: { 1: testMeterImage() } }).start();
    await waitFor(() => hub.latest('meter1', 'voltage_l1')?.quality === 'good', 15000, 'good reads after replug');
    expect(bus.stats.reconnects).toBeGreaterThan(reconnectsBefore);
  });
});

function crc(buf: Buffer): Buffer {
  let c = 0xffff;
  for (const b of buf) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
  }
  const out = Buffer.alloc(2);
  out.writeUInt16LE(c);
  return out;
}
