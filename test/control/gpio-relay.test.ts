/**
 * GPIO relays: one contract every RelayOutput implementation must pass:
 * - MemoryRelay (the in-memory stand-in);
 * - OnoffRelay with the real onoff library on an emulated sysfs GPIO tree (./sysfs-gpio.ts, kernel
 *   semantics for export, value, active_low and direction high/low), active-high and active-low:
 *   this runs everywhere, CI included, and is what covers OnoffRelay;
 * - OnoffRelay on real GPIO: opt-in (a board with sysfs GPIO and CARBONEDGE_TEST_GPIO_LINE set);
 *   skipped elsewhere, and no coverage is claimed from it.
 * Plus the chip-base lookup against sysfs trees of real boards.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findGpioChip, gpioNumber, listGpioChips } from '../../drivers/gpio/chip.js';
import { gpioAccessible, MemoryRelay, OnoffRelay, type RelayOutput } from '../../drivers/gpio/relay.js';
import { GpioWriteBackend } from '../../runtime/control/backends.js';
import { WriteGate } from '../../runtime/control/write-gate.js';
import { installSysfsGpio, type SysfsGpio } from './sysfs-gpio.js';

function relayContract(name: string, make: () => RelayOutput) {
  describe(`RelayOutput contract: ${name}`, () => {
    it('starts off, follows set(), reads back what was set, survives repeated writes', async () => {
      const r = make();
      try {
        expect(await r.get()).toBe(false);
        await r.set(true);
        expect(await r.get()).toBe(true);
        await r.set(true);
        expect(await r.get()).toBe(true);
        await r.set(false);
        expect(await r.get()).toBe(false);
      } finally {
        await r.set(false);
        r.close();
      }
    });

    it('through the write gate: verified by read-back; dry-run leaves the relay untouched', async () => {
      const r = make();
      try {
        const live = new WriteGate({ dryRun: false, backends: [new GpioWriteBackend('gpio', new Map([[r.id, r]]))] });
        expect((await live.write({ device: 'gpio', point: r.id, value: true, reason: 'test' })).status).toBe('verified');
        expect(await r.get()).toBe(true);
        await r.set(false);
        const dry = new WriteGate({ dryRun: true, backends: [new GpioWriteBackend('gpio', new Map([[r.id, r]]))] });
        expect((await dry.write({ device: 'gpio', point: r.id, value: true, reason: 'test' })).status).toBe('dry-run');
        expect(await r.get()).toBe(false);
      } finally {
        await r.set(false);
        r.close();
      }
    });
  });
}

relayContract('MemoryRelay', () => new MemoryRelay('k1'));

describe('OnoffRelay with the real onoff library on an emulated sysfs GPIO tree (Raspberry Pi 4, base 512)', () => {
  let sysfs: SysfsGpio;
  beforeAll(() => {
    sysfs = installSysfsGpio([
      { name: 'gpiochip512', base: 512, ngpio: 58, label: 'pinctrl-bcm2711' },
      { name: 'gpiochip570', base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' },
    ]);
  });
  afterAll(() => sysfs.uninstall());

  relayContract('OnoffRelay, active high (line 17 = gpio529)', () => new OnoffRelay('k1', 17, { sysfsRoot: sysfs.root }));
  relayContract('OnoffRelay, active low (line 18 = gpio530)', () => new OnoffRelay('k2', 18, { activeLow: true, sysfsRoot: sysfs.root }));

  it('exports base + line, as an output, starting de-energised: low pin, or high for an active-low board', async () => {
    const hi = new OnoffRelay('k3', 22, { sysfsRoot: sysfs.root });
    const lo = new OnoffRelay('k4', 23, { activeLow: true, sysfsRoot: sysfs.root });
    expect(hi.number).toBe(534);
    expect(lo.number).toBe(535);
    expect(sysfs.direction(534)).toBe('out');
    expect(sysfs.physical(534)).toBe(false);
    expect(sysfs.physical(535)).toBe(true); // active-low relay off = pin high
    expect(await lo.get()).toBe(false);
    await lo.set(true);
    expect(sysfs.physical(535)).toBe(false); // energised: pin pulled low
    await hi.set(true);
    expect(sysfs.physical(534)).toBe(true);
    expect(sysfs.physical(512 + 24)).toBeUndefined(); // nothing else exported
  });

  it('a gateway restart keeps the relay where it was (no re-initialisation of an exported output)', async () => {
    const first = new OnoffRelay('k5', 25, { activeLow: true, sysfsRoot: sysfs.root });
    await first.set(true);
    first.close();
    const again = new OnoffRelay('k5', 25, { activeLow: true, sysfsRoot: sysfs.root });
    expect(await again.get()).toBe(true);
    expect(sysfs.physical(537)).toBe(false);
  });
});

// Opt-in on a real board (sysfs GPIO and CARBONEDGE_TEST_GPIO_LINE set); skipped elsewhere.
const line = process.env.CARBONEDGE_TEST_GPIO_LINE;
describe.runIf(gpioAccessible() && line !== undefined)('on real GPIO (opt-in)', () => {
  relayContract('OnoffRelay (sysfs via onoff)', () => new OnoffRelay('k1', Number(line)));
});

function fakeSysfs(chips: { name: string; base: number; ngpio: number; label: string }[]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ce-gpio-'));
  for (const c of chips) {
    mkdirSync(path.join(root, c.name));
    writeFileSync(path.join(root, c.name, 'base'), `${c.base}\n`);
    writeFileSync(path.join(root, c.name, 'ngpio'), `${c.ngpio}\n`);
    writeFileSync(path.join(root, c.name, 'label'), `${c.label}\n`);
  }
  writeFileSync(path.join(root, 'export'), '');
  return root;
}

describe('GPIO chip base lookup (never hard-coded)', () => {
  it.each([
    ['Raspberry Pi 4, kernel 6.x (Bookworm)', [{ name: 'gpiochip512', base: 512, ngpio: 58, label: 'pinctrl-bcm2711' }, { name: 'gpiochip570', base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' }], 17, 529],
    ['Raspberry Pi 5', [{ name: 'gpiochip571', base: 571, ngpio: 54, label: 'pinctrl-rp1' }, { name: 'gpiochip512', base: 512, ngpio: 32, label: 'gpio-brcmstb@107d508500' }], 17, 588],
    ['older kernel (base 0)', [{ name: 'gpiochip0', base: 0, ngpio: 54, label: 'pinctrl-bcm2835' }, { name: 'gpiochip504', base: 504, ngpio: 8, label: 'raspberrypi-exp-gpio' }], 27, 27],
    ['unknown board: the lowest chip with the line', [{ name: 'gpiochip400', base: 400, ngpio: 4, label: 'x' }, { name: 'gpiochip300', base: 300, ngpio: 32, label: 'soc-gpio' }], 5, 305],
  ])('%s', (_n, chips, l, want) => {
    const root = fakeSysfs(chips);
    expect(gpioNumber(l, { root })).toBe(want);
  });

  it('an explicit chip label wins; errors say what was found', () => {
    const root = fakeSysfs([{ name: 'gpiochip512', base: 512, ngpio: 58, label: 'pinctrl-bcm2711' }, { name: 'gpiochip570', base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' }]);
    expect(gpioNumber(3, { root, label: 'raspberrypi-exp-gpio' })).toBe(573);
    expect(() => findGpioChip(9, { root, label: 'raspberrypi-exp-gpio' })).toThrow(/has 8 lines; line 9 does not exist/);
    expect(() => findGpioChip(1, { root, label: 'nope' })).toThrow(/no GPIO chip labelled 'nope' .*found: gpiochip512 \(pinctrl-bcm2711, base 512, 58 lines\)/);
    expect(listGpioChips(root).map((c) => c.base)).toEqual([512, 570]);
    expect(() => findGpioChip(1, { root: path.join(root, 'missing') })).toThrow(/found: none/);
  });
});
