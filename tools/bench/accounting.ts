/**
 * Accounting benchmark: CPU cost of live carbon accounting per reading, as a ratio to the poll
 * path without accounting, at 2,000 points per second of simulated time.
 *
 * The site: enough SDM630 meters (1 grid meter, the rest sub-meters), each polled once per simulated
 * second, to make 2,000 points/s. The poll path measured is the part that runs on the gateway's CPU for every
 * poll: decode the register blocks of the plan (planner + codec), build the readings and publish
 * them on the readings hub. Network I/O is left out, which makes the baseline cheaper and the ratio
 * stricter. The same loop runs with the accounting engine subscribed to the hub (counter deltas,
 * windows, quarter-hour closes, checkpoints to SQLite) and without it; rounds alternate so machine
 * noise hits both. CPU time from process.cpuUsage (user + system).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { decodeBlockResults, fromEngineering } from '../../drivers/modbus/codec.js';
import { planReads } from '../../drivers/modbus/planner.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles } from '../../drivers/profiles/types.js';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { Reading, DeviceRole } from '../../runtime/types.js';
import { loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { fromEntry } from '../../runtime/accounting/inventory.js';
import { AccountingEngine, accountingDevices, type AcctSettings } from '../../runtime/accounting/live.js';

const SECONDS = 1200; // 20 simulated minutes: one quarter-hour close plus checkpoints
const ROUNDS = 3;

function cpuMs(fn: () => void): number {
  const a = process.cpuUsage();
  fn();
  const d = process.cpuUsage(a);
  return (d.user + d.system) / 1000;
}

export async function benchAccounting(): Promise<Record<string, unknown>> {
  const profile = modbusProfiles(loadBuiltinProfiles().profiles).get('eastron-sdm630');
  if (!profile) throw new Error('profile eastron-sdm630 not found');
  const blocks = planReads(profile);
  const imp = profile.points.find((p) => p.canonical === 'energy_import')!;
  const exp = profile.points.find((p) => p.canonical === 'energy_export')!;
  const power = profile.points.find((p) => p.canonical === 'active_power')!;
  const perPoll = decodeBlockResults(profile, blocks.map((b) => ({ block: b, words: new Array<number>(b.count).fill(0) })), 0).length;
  const DEVICES = Math.ceil(2000 / perPoll);
  const devices = Array.from({ length: DEVICES }, (_, i) => ({
    id: `m${i}`,
    role: (i === 0 ? 'grid_meter' : 'submeter') as DeviceRole,
    pollIntervalMs: 1000,
  }));
  // Register image per device; the energy counters advance every second.
  const images = devices.map(() => blocks.map((b) => new Array<number>(b.count).fill(0).map((_, k) => (k * 7) & 0x3fff)));
  const setPoint = (img: number[][], p: typeof imp, value: number) => {
    const bi = blocks.findIndex((b) => b.register === p.register && p.address >= b.start && p.address < b.start + b.count);
    if (bi < 0) return;
    const words = fromEngineering(p, value);
    words.forEach((w, k) => (img[bi]![p.address - blocks[bi]!.start + k] = w));
  };
  const pointsPerPoll = decodeBlockResults(profile, blocks.map((b, i) => ({ block: b, words: images[0]![i]! })), 0).length;

  const lib = loadFactorLibrary();
  const settings: AcctSettings = {
    siteId: 'bench',
    gatewayId: 'bench',
    timezone: 'Asia/Shanghai',
    gridFactor: fromEntry(lib.get('CN-2023-national')!),
    remainderFactor: fromEntry(lib.get('CN-2023-residual')!),
    marketRemainder: 'residual',
    heatFactor: fromEntry(lib.get('CN-heat-default')!),
    heatFactors: new Map(),
    fuels: new Map(),
    onsiteAttributes: 'none',
    closeGraceMs: 30_000,
    checkpointMs: 10_000,
    uplink: true,
    instruments: [],
  };
  const acctDevices = accountingDevices(devices, {}, (_d, p) => p === 'energy_import' || p === 'energy_export' || p === 'active_power', {
    integrationFallback: true,
  });

  const run = (withAccounting: boolean, round: number): { ms: number; readings: number; quarters: number; listenerMs: number } => {
    const hub = new ReadingsHub();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-acct-'));
    const db = new Database(path.join(dir, 'carbonedge.db'));
    db.pragma('journal_mode = WAL');
    let enqueued = 0;
    const engine = withAccounting ? new AccountingEngine(settings, acctDevices, { db, outbox: { enqueue: () => ({ seq: ++enqueued }) } }) : undefined;
    let listenerNs = 0n;
    if (engine) {
      hub.subscribe((b) => {
        const a = process.hrtime.bigint();
        engine.ingest(b);
        listenerNs += process.hrtime.bigint() - a;
      });
    }
    const t0 = Date.parse('2024-06-01T00:00:00+08:00') + round * 86_400_000;
    let readings = 0;
    const ms = cpuMs(() => {
      for (let s = 0; s < SECONDS; s++) {
        const ts = t0 + s * 1000;
        for (let d = 0; d < DEVICES; d++) {
          const img = images[d]!;
          setPoint(img, imp, 1000 + d + s * 0.0125 * (d + 1));
          setPoint(img, exp, 10 + d + s * 0.001);
          setPoint(img, power, 45_000 + d);
          const results = decodeBlockResults(
            profile,
            blocks.map((b, i) => ({ block: b, words: img[i]! })),
            ts,
          );
          const batch: Reading[] = results.map((r) => ({
            device: devices[d]!.id,
            point: r.point.id,
            ...(r.point.canonical ? { canonical: r.point.canonical } : {}),
            value: r.value,
            unit: r.point.unit,
            quality: r.quality,
            ts,
            source: `bench#${d}`,
          }));
          readings += batch.length;
          hub.publish(batch);
        }
      }
    });
    const quarters = engine ? engine.stats.quarters : 0;
    engine?.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
    return { ms, readings, quarters, listenerMs: Number(listenerNs) / 1e6 };
  };

  run(true, 99); // warm-up (JIT) of both paths
  run(false, 98);
  let base = 0;
  let acct = 0;
  let readings = 0;
  let quarters = 0;
  let listener = 0;
  let acctTotal = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = run(false, r * 2);
    const b = run(true, r * 2 + 1);
    base += a.ms;
    acct += b.ms;
    readings += a.readings;
    quarters += b.quarters;
    listener += b.listenerMs;
    acctTotal += b.ms;
  }
  // Direct measure: time inside the accounting listener vs the rest of the same run.
  const listenerShare = listener / (acctTotal - listener);
  const perReadingBaseUs = (base * 1000) / readings;
  const perReadingAcctUs = (acct * 1000) / readings;
  const extra = acct / base - 1;
  const result = {
    devices: DEVICES,
    pointsPerPoll,
    pointsPerSecond: DEVICES * pointsPerPoll,
    simulatedSeconds: SECONDS * ROUNDS,
    readings,
    quartersClosed: quarters,
    pollPathCpuMs: Math.round(base),
    pollPathWithAccountingCpuMs: Math.round(acct),
    perReadingPollPathUs: Number(perReadingBaseUs.toFixed(3)),
    perReadingWithAccountingUs: Number(perReadingAcctUs.toFixed(3)),
    /** Primary figure: CPU inside the accounting listener over the rest of the same run's poll path. */
    ratio: Number((1 + listenerShare).toFixed(3)),
    accountingExtraCpu: `${(listenerShare * 100).toFixed(1)} %`,
    differentialRatio: Number((acct / base).toFixed(3)),
    differentialExtraCpu: `${(extra * 100).toFixed(1)} % (separate runs; noisy)`,
    accountingListenerMs: Math.round(listener),
    accountingListenerRatio: Number(listenerShare.toFixed(4)),
    perReadingAccountingUs: Number(((listener * 1000) / readings).toFixed(3)),
    aim: 'accounting adds < 10 % CPU to the poll path at 2,000 points/s',
    cpuShareAt2000PointsPerSecond: `${(((acct / (SECONDS * ROUNDS * 1000)) * 100) / 1).toFixed(2)} % of one core with accounting`,
  };
  process.stdout.write(
    `accounting: ${result.pointsPerSecond} points/s (${DEVICES} SDM630 x ${pointsPerPoll} points, 1 s polls), ${readings} readings, ${quarters} quarter-hours closed\n` +
      `  poll path (decode + hub) ${perReadingBaseUs.toFixed(3)} us/reading; with accounting ${perReadingAcctUs.toFixed(3)} us/reading\n` +
      `  accounting listener ${result.perReadingAccountingUs} us/reading: ratio ${result.ratio} -> accounting adds ${result.accountingExtraCpu} CPU to the poll path (aim < 10 %)\n` +
      `  separate runs with/without accounting: ratio ${result.differentialRatio} (noisy); ${result.cpuShareAt2000PointsPerSecond}\n`,
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void benchAccounting();
}
