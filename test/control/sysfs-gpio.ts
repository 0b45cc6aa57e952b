/**
 * A sysfs GPIO tree for machines without GPIO (CI, containers), so the REAL onoff library and
 * OnoffRelay run against it: onoff hard-codes /sys/class/gpio/, so the few `fs` calls it makes
 * (existsSync, openSync, readFileSync, writeFileSync) are redirected to a temporary directory
 * while the emulation is installed. The directory behaves as the kernel's gpiolib-sysfs does for
 * what onoff uses:
 * - writing N to `export` creates `gpioN/` with `direction` (in), `value` (0), `active_low` (0), `edge`;
 * - `value` holds the LOGICAL level (as the kernel shows it: physical XOR active_low);
 * - writing `active_low` keeps the physical level (the logical value flips if the setting changes);
 * - writing `high`/`low` to `direction` makes it an output at that PHYSICAL (raw) level
 *   (gpiod_direction_output_raw in drivers/gpio/gpiolib-sysfs.c), `out` = raw low.
 * `physical(n)` reads the pin's electrical level, what the relay coil sees.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PREFIX = '/sys/class/gpio/';

export interface SysfsGpio {
  /** Root of the emulated tree (pass as `sysfsRoot` to the chip lookup). */
  root: string;
  /** Electrical level of GPIO `n` (true = high), or undefined when not exported. */
  physical(n: number): boolean | undefined;
  direction(n: number): string | undefined;
  /** Remove the fs redirection (always call, e.g. in afterAll). */
  uninstall(): void;
}

export function installSysfsGpio(chips: { name: string; base: number; ngpio: number; label: string }[]): SysfsGpio {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-sysfs-gpio-'));
  const orig = { existsSync: fs.existsSync, openSync: fs.openSync, readFileSync: fs.readFileSync, writeFileSync: fs.writeFileSync };
  const w = (p: string, data: string) => orig.writeFileSync.call(fs, p, data);
  const r = (p: string) => String(orig.readFileSync.call(fs, p, 'utf8')).trim();
  for (const c of chips) {
    fs.mkdirSync(path.join(root, c.name));
    w(path.join(root, c.name, 'base'), `${c.base}\n`);
    w(path.join(root, c.name, 'ngpio'), `${c.ngpio}\n`);
    w(path.join(root, c.name, 'label'), `${c.label}\n`);
  }
  w(path.join(root, 'export'), '');
  w(path.join(root, 'unexport'), '');

  const map = (p: unknown): unknown => (typeof p === 'string' && p.startsWith(PREFIX) ? path.join(root, p.slice(PREFIX.length)) : p);
  const gpioDir = (n: number) => path.join(root, `gpio${n}`);
  const logical = (n: number) => r(path.join(gpioDir(n), 'value')) === '1';
  const activeLow = (n: number) => r(path.join(gpioDir(n), 'active_low')) === '1';

  const onWrite = (file: string, data: unknown): boolean => {
    const text = Buffer.isBuffer(data) ? data.toString() : String(data);
    if (file === path.join(root, 'export')) {
      const n = Number(text.trim());
      const chip = chips.find((c) => n >= c.base && n < c.base + c.ngpio);
      if (!Number.isInteger(n) || !chip) throw Object.assign(new Error(`EINVAL: write ${text} to export`), { code: 'EINVAL' });
      if (fs.existsSync(gpioDir(n))) throw Object.assign(new Error(`EBUSY: gpio${n} already exported`), { code: 'EBUSY' });
      fs.mkdirSync(gpioDir(n));
      w(path.join(gpioDir(n), 'direction'), 'in\n');
      w(path.join(gpioDir(n), 'value'), '0');
      w(path.join(gpioDir(n), 'active_low'), '0\n');
      w(path.join(gpioDir(n), 'edge'), 'none\n');
      return true;
    }
    const m = /\/gpio(\d+)\/(direction|active_low)$/.exec(file);
    if (!m) return false;
    const n = Number(m[1]);
    if (m[2] === 'active_low') {
      const next = text.trim() === '1';
      const phys = logical(n) !== activeLow(n);
      w(file, next ? '1\n' : '0\n');
      w(path.join(gpioDir(n), 'value'), phys !== next ? '1' : '0');
      return true;
    }
    const dir = text.trim();
    if (!['in', 'out', 'high', 'low'].includes(dir)) throw Object.assign(new Error(`EINVAL: direction ${dir}`), { code: 'EINVAL' });
    w(file, dir === 'in' ? 'in\n' : 'out\n');
    if (dir !== 'in') {
      const phys = dir === 'high';
      w(path.join(gpioDir(n), 'value'), phys !== activeLow(n) ? '1' : '0');
    }
    return true;
  };

  const patched = fs as unknown as Record<string, unknown>;
  patched.existsSync = (p: fs.PathLike) => orig.existsSync.call(fs, map(p) as fs.PathLike);
  patched.openSync = (p: fs.PathLike, ...a: unknown[]) => (orig.openSync as (...x: unknown[]) => number).call(fs, map(p), ...a);
  patched.readFileSync = (p: unknown, ...a: unknown[]) => (orig.readFileSync as (...x: unknown[]) => unknown).call(fs, map(p), ...a);
  patched.writeFileSync = (p: unknown, data: unknown, ...a: unknown[]) => {
    const file = map(p);
    if (typeof file === 'string' && file.startsWith(root) && onWrite(file, data)) return;
    (orig.writeFileSync as (...x: unknown[]) => void).call(fs, file, data, ...a);
  };

  return {
    root,
    physical: (n) => (fs.existsSync(gpioDir(n)) ? logical(n) !== activeLow(n) : undefined),
    direction: (n) => (fs.existsSync(gpioDir(n)) ? r(path.join(gpioDir(n), 'direction')) : undefined),
    uninstall: () => Object.assign(patched, orig),
  };
}
