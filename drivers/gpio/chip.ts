/**
 * GPIO chip lookup in sysfs. On Raspberry Pi OS Bookworm (kernel 6.x) sysfs GPIO numbers are
 * offset by the chip's base (512 on a Pi 4, 571 on a Pi 5), so the global number of a line is
 * never hard-coded: it is `base + line` of the chip found in /sys/class/gpio/gpiochip<N>/
 * (files `base`, `ngpio`, `label`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const SYSFS_GPIO = '/sys/class/gpio';

/** Labels of the main SoC GPIO controller of Raspberry Pi models, preferred in this order. */
export const KNOWN_SOC_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2712', 'pinctrl-bcm2711', 'pinctrl-bcm2835'];

export interface GpioChip {
  /** Directory name, e.g. gpiochip512. */
  name: string;
  base: number;
  ngpio: number;
  label: string;
}

export function listGpioChips(root = SYSFS_GPIO): GpioChip[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  const chips: GpioChip[] = [];
  for (const name of entries) {
    if (!/^gpiochip\d+$/.test(name)) continue;
    const read = (f: string) => readFileSync(path.join(root, name, f), 'utf8').trim();
    try {
      const base = Number(read('base'));
      const ngpio = Number(read('ngpio'));
      if (!Number.isInteger(base) || !Number.isInteger(ngpio)) continue;
      chips.push({ name, base, ngpio, label: read('label') });
    } catch {
      // A chip directory without the expected files is skipped.
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/**
 * The chip a line lives on: the chip with `label` if given, else the first known Raspberry Pi
 * SoC controller, else the lowest-based chip with enough lines. Throws with what was found.
 */
export function findGpioChip(line: number, opts: { label?: string; root?: string } = {}): GpioChip {
  const chips = listGpioChips(opts.root);
  const found = chips.map((c) => `${c.name} (${c.label}, base ${c.base}, ${c.ngpio} lines)`).join('; ') || 'none';
  let chip: GpioChip | undefined;
  if (opts.label) {
    chip = chips.find((c) => c.label === opts.label);
    if (!chip) throw new Error(`no GPIO chip labelled '${opts.label}' in ${opts.root ?? SYSFS_GPIO} (found: ${found})`);
  } else {
    for (const l of KNOWN_SOC_LABELS) {
      chip = chips.find((c) => c.label === l);
      if (chip) break;
    }
    chip ??= chips.find((c) => line < c.ngpio);
    if (!chip) throw new Error(`no GPIO chip with line ${line} in ${opts.root ?? SYSFS_GPIO} (found: ${found})`);
  }
  if (line >= chip.ngpio) throw new Error(`GPIO chip ${chip.name} (${chip.label}) has ${chip.ngpio} lines; line ${line} does not exist`);
  return chip;
}

/** Global sysfs GPIO number of `line` (what onoff's Gpio constructor takes). */
export function gpioNumber(line: number, opts: { label?: string; root?: string } = {}): number {
  return findGpioChip(line, opts).base + line;
}
