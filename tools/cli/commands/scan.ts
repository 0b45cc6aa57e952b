/**
 * `carbonedge scan`: find what is on a bus (Modbus unit ids, SunSpec devices, DL/T 645 meters),
 * name it from the library, and print a site-config snippet that passes `carbonedge check`.
 * Read requests only. Sweep order and timeouts: tools/scan/sweep.ts and the README.
 */
import path from 'node:path';
import { builtinProfileDir, loadProfiles } from '../../../drivers/profiles/load.js';
import { ConfigError } from '../../../runtime/config/errors.js';
import type { Parity } from '../../../runtime/config/types.js';
import { siteSnippet, profileFor } from '../../scan/snippet.js';
import { scan, type ScanLine, type ScanTarget } from '../../scan/sweep.js';
import type { Command } from '../command.js';
import { hostPort, parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge scan (--tcp HOST:PORT | --rtu-over-tcp HOST:PORT | --rtu PATH (--baud N | --bauds N,N...) (--parity P | --parities P,P...)) ... ' +
  '[--units 1-247] [--timeout MS] [--address 123456789012 ...] [--json] [--profile-dir DIR]\n' +
  '  each of --tcp, --rtu-over-tcp and --rtu may be given several times: the buses are scanned one after the other and one snippet holds them all';

/** Per-request timeout: what an empty unit costs (one unanswered read). */
const DEFAULT_TIMEOUT_MS = 250;
const PARITIES = new Set(['none', 'even', 'odd']);

/** `1-247`, `1,3,10-12`: unit ids in ascending order. */
export function parseUnits(spec: string): number[] {
  const units = new Set<number>();
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const [a, b] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [NaN, NaN];
    if (!m || a < 1 || b > 247 || a > b) throw new UsageError(`--units expects ranges of unit ids 1..247 such as 1-247 or 1,3,10-12, got '${spec}'`);
    for (let u = a; u <= b; u++) units.add(u);
  }
  return [...units].sort((x, y) => x - y);
}

function list<T extends string | number>(flag: string, raw: string | undefined, one: string | undefined, parse: (v: string) => T | undefined, expected: string): T[] {
  const items = (raw ?? one ?? '').split(',').filter((v) => v.trim() !== '');
  if (!items.length) throw new UsageError(`--rtu needs ${flag} (${expected})`);
  return items.map((v) => {
    const x = parse(v.trim());
    if (x === undefined) throw new UsageError(`${flag} expects ${expected}, got '${v}'`);
    return x;
  });
}

/** A progress bar on a terminal; plain lines (every 10 %) when stderr is a file or a pipe. */
function progress(): (done: number, total: number, what: string) => void {
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  return (done, total, what) => {
    const frac = total ? done / total : 1;
    if (tty) {
      const width = 30;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      process.stderr.write(`\r[${bar}] ${String(done).padStart(String(total).length)}/${total} ${what}`.padEnd(78).slice(0, 100));
      if (done === total) process.stderr.write('\n');
      return;
    }
    const tenth = Math.floor(frac * 10);
    if (tenth === lastTenth) return;
    lastTenth = tenth;
    process.stderr.write(`carbonedge scan: ${Math.round(frac * 100)} % (${done}/${total}) ${what}\n`);
  };
}

function report(lines: ScanLine[]): string {
  const out: string[] = [];
  if (!lines.length) out.push('nothing answered');
  for (const line of lines) {
    out.push(line.type === 'rtu' ? `${line.path} at ${line.baudRate} baud, parity ${line.parity}:` : `${line.type} ${line.host}:${line.port}:`);
    for (const u of line.units) {
      const s = u.sunspec;
      if (s) out.push(`  unit ${u.unit}: SunSpec device at base ${s.base}: manufacturer ${s.manufacturer ?? '?'}, model ${s.model ?? '?'}${s.version ? `, version ${s.version}` : ''}${s.serial ? `, serial ${s.serial}` : ''}; models ${s.models.join(', ')}`);
      const profile = profileFor(u);
      if (u.profiles.length) out.push(`  unit ${u.unit}: ${u.profiles.join(', ')} (identify probes hold)`);
      else if (!profile) out.push(`  unit ${u.unit}: answers; no library profile's identify probes hold`);
    }
    for (const m of line.meters) out.push(`  DL/T 645 meter ${m.address} (${m.via === '13h' ? 'answered the read-address broadcast 13h' : 'answered at its address'}, ${m.protocol})`);
  }
  return `${out.join('\n')}\n`;
}

export const command: Command = {
  summary: 'Find the devices on a bus (Modbus unit ids, SunSpec, DL/T 645 meters), name them from the library and print a site-config snippet. Never writes.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values, tokens } = parseCommandArgs(argv, {
        tcp: { type: 'string', multiple: true },
        'rtu-over-tcp': { type: 'string', multiple: true },
        rtu: { type: 'string', multiple: true },
        baud: { type: 'string' },
        bauds: { type: 'string' },
        parity: { type: 'string' },
        parities: { type: 'string' },
        units: { type: 'string' },
        timeout: { type: 'string' },
        address: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        'profile-dir': { type: 'string', multiple: true },
      });
      // The buses in the order they were given.
      const targets = tokens.flatMap((t): ScanTarget[] => {
        if (t.kind !== 'option' || t.value === undefined) return [];
        if (t.name === 'tcp') return [{ type: 'tcp', ...hostPort('--tcp', t.value) }];
        if (t.name === 'rtu-over-tcp') return [{ type: 'rtu-over-tcp', ...hostPort('--rtu-over-tcp', t.value) }];
        return t.name === 'rtu' ? [{ type: 'rtu', path: t.value }] : [];
      });
      if (!targets.length) throw new UsageError('give a bus to scan: --tcp HOST:PORT, --rtu-over-tcp HOST:PORT or --rtu PATH (each may be repeated)');
      let bauds: number[] = [];
      let parities: Parity[] = [];
      if (values.rtu?.length) {
        bauds = list('--baud', values.bauds, values.baud, (v) => ([1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].includes(Number(v)) ? Number(v) : undefined), 'baud rates such as 2400,9600');
        parities = list('--parity', values.parities, values.parity, (v) => (PARITIES.has(v) ? (v as Parity) : undefined), 'none, even or odd');
      }
      const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(values.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 20 || timeoutMs > 10_000) throw new UsageError(`--timeout expects milliseconds 20..10000, got '${values.timeout}'`);
      const addresses = values.address ?? [];
      for (const a of addresses) if (!/^\d{12}$/.test(a)) throw new UsageError(`--address expects a DL/T 645 meter address of 12 digits, got '${a}'`);
      if (addresses.length && targets.every((t) => t.type === 'tcp')) throw new UsageError('--address probes DL/T 645 meters on a serial line or a TCP serial converter (--rtu, --rtu-over-tcp), not on Modbus TCP');
      const { profiles, issues } = loadProfiles([builtinProfileDir(), ...(values['profile-dir'] ?? []).map((d) => path.resolve(d))]);
      if (issues.length) throw new ConfigError(issues, 'the device profiles have errors');

      const units = parseUnits(values.units ?? '1-247');
      const lines: ScanLine[] = [];
      for (const target of targets) {
        // Meter addresses are probed on serial lines and converters only (a Modbus TCP server has no DL/T 645 meters).
        lines.push(...(await scan({ target, units, bauds, parities, timeoutMs, addresses: target.type === 'tcp' ? [] : addresses, profiles, onProgress: progress() })));
      }
      const snippet = siteSnippet(lines, profiles);
      if (values.json) process.stdout.write(`${JSON.stringify({ lines, snippet }, null, 2)}\n`);
      else process.stdout.write(`${report(lines)}\n# site-config snippet (paste under version, site and gateway; check with carbonedge check):\n${snippet}`);
      return 0;
    }),
};
