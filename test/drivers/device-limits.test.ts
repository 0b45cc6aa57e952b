/**
 * A profile's device-level limits are honoured on the wire by the poll path (not only by the
 * planner in isolation): max registers per request, max filler registers, prohibited ranges,
 * inter-request delay and timeout. The peer is a spec-written Modbus TCP device that logs every
 * request it receives.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { planReads } from '../../drivers/modbus/planner.js';
import type { Profile } from '../../drivers/profiles/types.js';
import type { BusConfig, DeviceConfig } from '../../runtime/config/types.js';
import { FAKE_TIMEOUTS, expectPausesOnFakeTime } from '../helpers/fake-pauses.js';
import { startMbapPeer, type MbapPeer } from './mbap-peer.js';

const limited: Profile = {
  id: 'limited',
  version: 1,
  manufacturer: 'carbonedge tests',
  model: 'device with tight limits',
  kind: 'meter',
  source: { document: 'test fixture' },
  limits: {
    maxRegistersPerRequest: 4,
    maxFillRegisters: 1,
    prohibited: [{ register: 'holding', start: 5, end: 5, reason: 'answers exception 02' }],
    interRequestDelayMs: 40,
    timeoutMs: 150,
  },
  points: [
    { id: 'h0', register: 'holding', address: 0, type: 'u16' },
    { id: 'h1', register: 'holding', address: 1, type: 'u16' },
    { id: 'h2', register: 'holding', address: 2, type: 'u16' },
    { id: 'h3', register: 'holding', address: 3, type: 'u16' },
    { id: 'h4', register: 'holding', address: 4, type: 'u16' },
    { id: 'h6', register: 'holding', address: 6, type: 'u16' },
    { id: 'h8', register: 'holding', address: 8, type: 'u16' }, // 7 is one filler register
    { id: 'h12', register: 'holding', address: 12, type: 'u16' }, // 9..11: three, too many
    { id: 'i0', register: 'input', address: 0, type: 'u32' },
    { id: 'sp', register: 'holding', address: 20, type: 'u16', access: 'read-write', min: 0, max: 100, poll: false },
  ],
};

const device = (over: Partial<DeviceConfig> = {}): DeviceConfig => ({
  id: 'meter',
  role: 'submeter',
  bus: 'b',
  unitId: 1,
  profile: 'limited',
  pollIntervalMs: 1000,
  ...over,
});

describe('device-level limits on the wire', () => {
  let peer: MbapPeer;
  beforeAll(async () => {
    peer = await startMbapPeer();
    peer.silent.add(2);
  });
  afterAll(async () => {
    await peer?.close();
  });

  it('requests are exactly the plan: at most 4 registers, at most 1 filler, never the prohibited register', async () => {
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: peer.port });
    try {
      expect(await bus.connect()).toBe(true);
      peer.log.length = 0;
      vi.useFakeTimers(FAKE_TIMEOUTS);
      const poll = new DevicePoller({ device: device(), profile: limited, bus }).pollOnce();
      // The profile's inter-request delay (the bus sets none) separates every transaction: after
      // each reply the bus waits 40 ms of fake time, not 39, before the next request.
      await expectPausesOnFakeTime(() => peer.log.length, 5, 40);
      vi.useRealTimers();
      const readings = await poll;
      const wire = peer.log.map((r) => [r.fc, r.address, r.count]);
      expect(wire).toEqual([
        [4, 0, 2],
        [3, 0, 4],
        [3, 4, 1],
        [3, 6, 3],
        [3, 12, 1],
      ]);
      expect(wire).toEqual(planReads(limited).map((b) => [b.register === 'input' ? 4 : 3, b.start, b.count]));
      for (const r of peer.log) {
        expect(r.count).toBeLessThanOrEqual(4);
        if (r.fc === 3) expect(r.address <= 5 && 5 < r.address + r.count, `request ${r.address}+${r.count} covers prohibited 5`).toBe(false);
      }
      // Values come from the right registers (peer value = unit * 1000 + address).
      const by = Object.fromEntries(readings.map((r) => [r.point, r]));
      for (const a of [0, 1, 2, 3, 4, 6, 8, 12]) expect(by[`h${a}`]!.value, `h${a}`).toBe(1000 + a);
      expect(by.i0!.value).toBe(1000 * 65536 + 1001);
    } finally {
      vi.useRealTimers();
      await bus.close();
    }
  });

  it('timeout: the device setting wins; else the longer of the profile and the bus setting', async () => {
    const cases: Array<{ bus: Partial<BusConfig>; dev: Partial<DeviceConfig>; want: number }> = [
      { bus: {}, dev: {}, want: 150 }, // profile
      { bus: { timeoutMs: 400 }, dev: {}, want: 400 }, // a slow link: the bus adds time
      { bus: { timeoutMs: 100 }, dev: {}, want: 150 }, // never shorter than the device needs
      { bus: { timeoutMs: 400 }, dev: { timeoutMs: 250 }, want: 250 }, // the installer's per-device value
    ];
    for (const c of cases) {
      const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: peer.port, ...c.bus } as BusConfig);
      try {
        const poller = new DevicePoller({ device: device({ unitId: 2, ...c.dev }), profile: limited, bus });
        expect(poller.timeoutMs).toBe(c.want);
        const ignoredBefore = peer.ignored.get(2) ?? 0;
        const readings = await poller.pollOnce();
        expect(readings.every((r) => r.quality === 'comm-error')).toBe(true);
        expect(readings[0]!.error).toMatch(new RegExp(`device meter \\(unit 2 on modbus-tcp://127\\.0\\.0\\.1:${peer.port}\\) input 0\\.\\.1: no reply within ${c.want} ms`));
        // The first unanswered request abandons the cycle: one request, not one per block.
        expect(peer.ignored.get(2)! - ignoredBefore).toBe(1);
        expect(poller.backedOff).toBeDefined();
      } finally {
        await bus.close();
      }
    }
  });

  it('write errors name device, unit, bus and register: a value the profile refuses never reaches the wire; a device exception is typed', async () => {
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port: peer.port });
    try {
      const poller = new DevicePoller({ device: device(), profile: limited, bus });
      peer.log.length = 0;
      const where = `device meter \\(unit 1 on modbus-tcp://127\\.0\\.0\\.1:${peer.port}\\) holding 20`;
      await expect(poller.writePoint('sp', 500)).rejects.toThrow(new RegExp(`^${where}: value 500 refused for 'sp': .*above the maximum 100`));
      expect(peer.log).toHaveLength(0);
      // This peer implements no write function: exception 01, typed and located.
      await expect(poller.writePoint('sp', 50)).rejects.toThrow(new RegExp(`^${where}: exception 01 illegal function$`));
      expect(peer.log.map((r) => r.fc)).toEqual([16]);
      await expect(poller.writePoint('h0', 1)).rejects.toThrow(/^device meter: point 'h0' is not writeable/);
    } finally {
      await bus.close();
    }
  });
});
