/**
 * GPIO relays: one contract every RelayOutput implementation must pass (the in-memory stand-in
 * always; the onoff/sysfs relay where this machine has GPIO, e.g. on a Raspberry Pi with
 * CARBONEDGE_TEST_GPIO_LINE set), and the chip-base lookup against sysfs trees of real boards.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findGpioChip, gpioNumber, listGpioChips } from '../../drivers/gpio/chip.js';
import { gpioAccessible, MemoryRelay, OnoffRelay, type RelayOutput } from '../../drivers/gpio/relay.js';
import { GpioWriteBackend } from '../../runtime/control/backends.js';
import { WriteGate } from '../../runtime/control/write-gate.js';

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
const line = process.env.CARBONEDGE_TEST_GPIO_LINE;
describe.runIf(gpioAccessible() && line !== undefined)('on real GPIO', () => {
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
