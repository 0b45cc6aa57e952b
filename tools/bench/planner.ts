/**
 * Planner benchmark: requests per full read of each profile, planned vs one request per point
 * (ThingsBoard / node-red-contrib-modbus) vs the minimum (dynamic programming) vs Telegraf-style
 * fill (max_register_fill 50, 125 registers, no prohibited ranges), plus the registers each plan
 * reads and how long planning takes.
 */
import { registerCount } from '../../drivers/modbus/codec.js';
import { maxSpan, minimumRequestCount, onePerPointRequestCount, planReads, pointsToRead } from '../../drivers/modbus/planner.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile, type RegisterType } from '../../drivers/profiles/types.js';

/** The real (vendor) profiles the issue asks about; the demo maps are reported too. */
const REAL = ['eastron-sdm630', 'chint-dtsu666', 'sunspec-inverter-103'];

/** Telegraf `max_insert` coalescing, per register type. */
function telegraf(profile: Profile): { requests: number; registers: number; readsProhibited: boolean; exceedsDeviceMax: boolean } {
  const byReg = new Map<RegisterType, { start: number; end: number }[]>();
  const points = pointsToRead(profile).sort((a, b) => a.address - b.address);
  for (const p of points) {
    const list = byReg.get(p.register) ?? [];
    const end = p.address + registerCount(p) - 1;
    const cur = list[list.length - 1];
    if (cur && p.address - cur.end - 1 <= 50 && end - cur.start + 1 <= 125) cur.end = Math.max(cur.end, end);
    else list.push({ start: p.address, end });
    byReg.set(p.register, list);
  }
  let requests = 0;
  let registers = 0;
  let readsProhibited = false;
  let exceedsDeviceMax = false;
  for (const [reg, list] of byReg) {
    requests += list.length;
    for (const w of list) {
      registers += w.end - w.start + 1;
      if (w.end - w.start + 1 > maxSpan(profile.limits, reg)) exceedsDeviceMax = true;
      if (profile.limits.prohibited.some((r) => r.register === reg && r.start <= w.end && r.end >= w.start)) readsProhibited = true;
    }
  }
  return { requests, registers, readsProhibited, exceedsDeviceMax };
}

export async function benchPlanner(): Promise<Record<string, unknown>> {
  const { profiles: all, issues } = loadBuiltinProfiles();
  if (issues.length) throw new Error(`built-in profiles have issues: ${issues.map((i) => `${i.file} ${i.path}: ${i.message}`).join('; ')}`);
  const profiles = modbusProfiles(all);
  const out: Record<string, unknown> = {};
  const rows: string[] = [];
  const ids = [...REAL.filter((id) => profiles.has(id)), ...[...profiles.keys()].filter((id) => !REAL.includes(id)).sort()];
  for (const id of ids) {
    const profile = profiles.get(id)!;
    const blocks = planReads(profile);
    const planned = blocks.length;
    const minimum = minimumRequestCount(profile);
    const onePerPoint = onePerPointRequestCount(profile);
    const tg = telegraf(profile);
    const registersRead = blocks.reduce((n, b) => n + b.count, 0);
    const iterations = 2000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) planReads(profile);
    const planUs = Number(process.hrtime.bigint() - t0) / 1000 / iterations;
    out[id] = {
      real: REAL.includes(id),
      points: pointsToRead(profile).length,
      planned,
      onePerPoint,
      minimum,
      plannedIsMinimal: planned === minimum,
      requestsSavedVsOnePerPoint: `${(onePerPoint / planned).toFixed(1)}x fewer`,
      registersRead,
      telegrafStyle: tg,
      planMicroseconds: Number(planUs.toFixed(1)),
    };
    rows.push(
      `${id.padEnd(30)} ${String(pointsToRead(profile).length).padStart(6)} ${String(planned).padStart(7)} ${String(onePerPoint).padStart(9)} ${String(minimum).padStart(7)} ${`${tg.requests}${tg.readsProhibited ? ' reads prohibited!' : ''}${tg.exceedsDeviceMax ? ' too large!' : ''}`.padStart(30)} ${String(registersRead).padStart(9)} ${planUs.toFixed(1).padStart(8)}`,
    );
  }
  process.stdout.write(
    `${'profile'.padEnd(30)} ${'points'.padStart(6)} ${'planned'.padStart(7)} ${'1/point'.padStart(9)} ${'minimum'.padStart(7)} ${'telegraf-style'.padStart(30)} ${'registers'.padStart(9)} ${'plan µs'.padStart(8)}\n${rows.join('\n')}\n`,
  );
  return out;
}
