import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../../runtime/store/store.js';
import type { Reading } from '../../runtime/types.js';

/**
 * Readings persisted per second through the store (raw rows + 1m/15m aggregates + counter deltas
 * + summaries enqueued in the outbox, batched transactions) against raw better-sqlite3 batched
 * inserts of the same rows (WAL, synchronous=NORMAL, one transaction per batch of the same size).
 * The store pays for durability the raw side does not: every flush that closes a minute (and so
 * enqueues summaries) commits at synchronous=FULL (an fsync of the WAL), as in production.
 * Each side runs `trials` times, interleaved; the medians are compared.
 */
export async function benchStore(opts: { devices?: number; points?: number; ticks?: number; batch?: number; trials?: number } = {}): Promise<Record<string, unknown>> {
  // Poll every 1 s (a typical meter rate) and every 10 s (six readings per 1-minute summary: the
  // summary and outbox work weighs most).
  const fast = await benchStoreScenario({ ...opts, stepMs: 1000 });
  const slow = await benchStoreScenario({ ...opts, stepMs: 10_000 });
  return { poll1s: fast, poll10s: slow };
}

async function benchStoreScenario(opts: {
  devices?: number;
  points?: number;
  ticks?: number;
  batch?: number;
  trials?: number;
  stepMs: number;
}): Promise<Record<string, unknown>> {
  const trials = opts.trials ?? 3;
  const devices = opts.devices ?? 50;
  const points = opts.points ?? 40;
  const ticks = opts.ticks ?? 150;
  const batch = opts.batch ?? 5000;
  const t0 = Date.UTC(2026, 0, 1);
  const stepMs = opts.stepMs;
  const readings: Reading[][] = [];
  for (let t = 0; t < ticks; t++) {
    const ts = t0 + t * stepMs;
    const tick: Reading[] = [];
    for (let d = 0; d < devices; d++)
      for (let p = 0; p < points; p++)
        tick.push({
          device: `dev${d}`,
          point: p === 0 ? 'energy_import' : `p${p}`,
          canonical: p === 0 ? 'energy_import' : undefined,
          unit: p === 0 ? 'kWh' : 'W',
          value: p === 0 ? 1000 + t * 0.01 : Math.sin(t + p) * 1000,
          quality: 'good',
          ts,
          source: 'bench',
        });
    readings.push(tick);
  }
  const total = devices * points * ticks;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-bench-store-'));
  try {
    // Raw better-sqlite3.
    const cpu = { raw: 0, store: 0 };
    const runRaw = (trial: number): number => {
      const raw = new Database(path.join(dir, `raw-${trial}.db`));
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      raw.exec('CREATE TABLE readings (ts INTEGER, device TEXT, point TEXT, value REAL, quality TEXT)');
      const ins = raw.prepare('INSERT INTO readings (ts, device, point, value, quality) VALUES (?, ?, ?, ?, ?)');
      const insMany = raw.transaction((rows: Reading[]) => {
        for (const r of rows) ins.run(r.ts, r.device, r.point, r.value as number, r.quality);
      });
      let buf: Reading[] = [];
      const cpu0 = process.cpuUsage();
      const rawStart = process.hrtime.bigint();
      for (const tick of readings) {
        for (const r of tick) buf.push(r);
        if (buf.length >= batch) {
          insMany(buf);
          buf = [];
        }
      }
      if (buf.length) insMany(buf);
      const rawSec = Number(process.hrtime.bigint() - rawStart) / 1e9;
      const c = process.cpuUsage(cpu0);
      cpu.raw += c.user + c.system;
      raw.close();
      return total / rawSec;
    };

    // Through the store (its own flush thresholds; the clock follows the data so buckets close).
    let summaries = 0;
    const runStore = (trial: number): number => {
      const clock = { t: t0, now: () => clock.t };
      const store = new Store({
        dataDir: dir,
        file: path.join(dir, `store-${trial}.db`),
        siteId: 'bench',
        gatewayId: 'gw',
        clock,
        config: { flushMaxRows: batch, flushIntervalMs: 60_000, statsIntervalMs: 0, maintenanceIntervalMs: 3_600_000 },
      });
      const cpu0 = process.cpuUsage();
      const storeStart = process.hrtime.bigint();
      for (const tick of readings) {
        clock.t = tick[0]!.ts;
        store.ingest(tick);
      }
      clock.t = t0 + ticks * stepMs + 15 * 60_000;
      store.flush();
      const storeSec = Number(process.hrtime.bigint() - storeStart) / 1e9;
      const c = process.cpuUsage(cpu0);
      cpu.store += c.user + c.system;
      summaries = store.outbox.lastSeq('readings-1m') + store.outbox.lastSeq('readings-15m');
      store.close();
      return total / storeSec;
    };

    // Interleaved trials, medians: a shared, noisy machine hits both sides alike.
    const rawRates: number[] = [];
    const storeRates: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      rawRates.push(runRaw(trial));
      storeRates.push(runStore(trial));
    }
    const rawRate = median(rawRates);
    const storeRate = median(storeRates);
    const res = {
      pollMs: stepMs,
      readings: total,
      batch,
      trials,
      rawInsertsPerSec: Math.round(rawRate),
      storePerSec: Math.round(storeRate),
      ratioRawOverStore: Number((rawRate / storeRate).toFixed(2)),
      // CPU time (user + system, all trials) per reading: less sensitive to other load than wall time.
      cpuUsPerReadingRaw: Number((cpu.raw / trials / total).toFixed(3)),
      cpuUsPerReadingStore: Number((cpu.store / trials / total).toFixed(3)),
      cpuRatioStoreOverRaw: Number((cpu.store / cpu.raw).toFixed(2)),
      summariesEnqueued: summaries,
      aim: 'store within 2x of raw inserts (ratio <= 2)',
    };
    process.stdout.write(
      `store (poll ${stepMs / 1000} s, ${devices}x${points} points, median of ${trials}): ${res.storePerSec} readings/s through the store vs ${res.rawInsertsPerSec}/s raw better-sqlite3 batched inserts -> ${res.ratioRawOverStore}x (aim <= 2x); CPU ${res.cpuUsPerReadingStore} vs ${res.cpuUsPerReadingRaw} us/reading (${res.cpuRatioStoreOverRaw}x); ${summaries} summaries enqueued\n`,
    );
    return res;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const isMain = process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]));
if (isMain) await benchStore();
