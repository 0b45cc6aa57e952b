/**
 * The site of the memory benchmark: a 12-point variant of the eastron-sdm630 profile in a
 * site-local profile directory, and a site configuration with one Modbus TCP bus per meter.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { builtinProfileDir, loadProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile } from '../../drivers/profiles/types.js';

export const BASE_PROFILE = 'eastron-sdm630';
export const BENCH_PROFILE = 'eastron-sdm630-12p';
/**
 * The 12 points polled (eastron-sdm630 has 35): phase voltages, currents and powers, total power
 * and the two energy counters accounting needs. They plan to two reads (0x00..0x11 and
 * 0x34..0x4B, the gap to the counters filled).
 */
export const BENCH_POINTS = [
  'voltage_l1',
  'voltage_l2',
  'voltage_l3',
  'current_l1',
  'current_l2',
  'current_l3',
  'active_power_l1',
  'active_power_l2',
  'active_power_l3',
  'active_power',
  'energy_import',
  'energy_export',
] as const;

/** Write `<dir>/eastron-sdm630-12p.yaml` (the shipped profile, only BENCH_POINTS) and load it back. */
export function writeProfileVariant(dir: string): Profile {
  mkdirSync(dir, { recursive: true });
  const base = parse(readFileSync(path.join(builtinProfileDir(), `${BASE_PROFILE}.yaml`), 'utf8')) as { points: { id: string }[] } & Record<string, unknown>;
  const keep = new Set<string>(BENCH_POINTS);
  // The scan fingerprint (identify) names points the variant drops; a benchmark site is never scanned.
  const { identify: _fingerprint, ...kept } = base;
  const variant = {
    ...kept,
    id: BENCH_PROFILE,
    description: `${String(base.description)} Benchmark variant: ${BENCH_POINTS.length} of the ${base.points.length} points of ${BASE_PROFILE}.`,
    points: base.points.filter((p) => keep.has(p.id)),
  };
  if (variant.points.length !== BENCH_POINTS.length) throw new Error(`${BASE_PROFILE} lacks some of ${BENCH_POINTS.join(', ')}`);
  writeFileSync(path.join(dir, `${BENCH_PROFILE}.yaml`), stringify(variant));
  const { profiles, issues } = loadProfiles([builtinProfileDir(), dir]);
  const profile = modbusProfiles(profiles).get(BENCH_PROFILE);
  if (!profile || issues.length) throw new Error(`${BENCH_PROFILE}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`);
  return profile;
}

/**
 * A site config: one tcp bus per port, meter01 the grid meter and the others sub-meters (all of
 * BENCH_PROFILE at `unitId`), polled every `pollIntervalMs`; the store with its defaults and
 * accounting on. Written as `file`; `profileDir` is made relative to it.
 */
export function writeSiteConfig(file: string, opts: { ports: number[]; unitId: number; profileDir: string; pollIntervalMs: number }): void {
  const id = (i: number) => String(i + 1).padStart(2, '0');
  const config = {
    version: 1,
    site: { id: 'bench-memory', timezone: 'UTC' },
    gateway: { id: `bench-memory-unit${opts.unitId}` },
    profileDirs: [path.relative(path.dirname(file), opts.profileDir) || '.'],
    buses: opts.ports.map((port, i) => ({ id: `m${id(i)}`, type: 'tcp', host: '127.0.0.1', port, timeoutMs: 1000 })),
    devices: opts.ports.map((_, i) => ({
      id: `meter${id(i)}`,
      role: i === 0 ? 'grid_meter' : 'submeter',
      bus: `m${id(i)}`,
      unitId: opts.unitId,
      profile: BENCH_PROFILE,
      pollIntervalMs: opts.pollIntervalMs,
    })),
    accounting: { gridFactor: 'CN-2023-national', residualFactor: 'CN-2023-residual', marketRemainder: 'residual' },
  };
  writeFileSync(file, stringify(config));
}
