import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../runtime/logger.js';
import { SqliteOutbox } from '../../runtime/outbox/sqlite-outbox.js';
import { openPersistence } from '../../runtime/persistence/database.js';
import { STORE_MIGRATIONS } from '../../runtime/store/migrations.js';
import { systemClock } from '../../runtime/types.js';
import { startMosquitto } from './mosquitto.js';
import { SHIPPED_NODE_FLAGS } from './rss.js';

interface PhaseResult {
  seconds: number;
  growthMB: number;
  peakMB: number;
}

/** Run one phase in a child process with the shipped V8 flags (and --expose-gc for a collected baseline). */
function runPhase(mode: 'raw' | 'uplink', file: string, url: string, batch: number, inFlight: number): Promise<PhaseResult> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'drain-phase.js');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...SHIPPED_NODE_FLAGS, '--expose-gc', script, mode, file, url, String(batch), String(inFlight)], { maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`drain phase ${mode} failed: ${stderr || err.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as PhaseResult);
    });
  });
}

/**
 * Backlog drain: a one-day backlog of `devices` x `points` 1-minute summaries (readings-1m records
 * as the store writes them) drained from the outbox into a local mosquitto through the uplink
 * (batches, QoS 1, delete after PUBACK, no backfill rate cap), against mqtt.js publishing the same
 * envelopes (same batching, same in-flight window) straight from the rows, with no outbox bookkeeping.
 */
export async function benchDrain(opts: { devices?: number; points?: number; minutes?: number; batch?: number; inFlight?: number } = {}): Promise<Record<string, unknown>> {
  const devices = opts.devices ?? 50;
  const points = opts.points ?? 40;
  const minutes = opts.minutes ?? 1440;
  const batch = opts.batch ?? 500;
  const inFlight = opts.inFlight ?? 16;
  const total = devices * points * minutes;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-bench-drain-'));
  const { url, proc } = await startMosquitto(dir);
  try {
    // Build the backlog.
    const persistence = openPersistence(dir, [STORE_MIGRATIONS], silentLogger());
    const outbox = new SqliteOutbox(persistence, { gatewayId: 'gw', clock: systemClock, logger: silentLogger() });
    const t0 = Date.UTC(2026, 0, 1);
    const buildStart = performance.now();
    for (let m = 0; m < minutes; m++) {
      const recs: Record<string, unknown>[] = [];
      for (let d = 0; d < devices; d++)
        for (let p = 0; p < points; p++)
          recs.push({ ts: t0 + m * 60_000, device: `dev${d}`, point: `p${p}`, unit: 'W', min: 100 + p, max: 200 + p, mean: 150.5 + p, last: 170.25, count: 12, samples: 12, quality: 'good' });
      outbox.enqueueMany('readings-1m', recs);
    }
    const buildSec = (performance.now() - buildStart) / 1000;
    const backlogBytes = outbox.outboxStats().bytes;

    persistence.close();
    // Each phase in a process of its own (./drain-phase.ts): raw mqtt.js first (it only reads),
    // then the uplink (it drains the outbox). Each RSS growth starts from a fresh process.
    const phase = (mode: 'raw' | 'uplink') => runPhase(mode, persistence.file, url, batch, inFlight);
    const rawRun = await phase('raw');
    const ours = await phase('uplink');
    const baseSec = rawRun.seconds;
    const sec = ours.seconds;
    const res = {
      records: total,
      backlogMB: Number((backlogBytes / 1024 / 1024).toFixed(1)),
      buildSeconds: Number(buildSec.toFixed(1)),
      drainSeconds: Number(sec.toFixed(1)),
      recordsPerSec: Math.round(total / sec),
      rawMqttJsSeconds: Number(baseSec.toFixed(1)),
      rawMqttJsRecordsPerSec: Math.round(total / baseSec),
      ratioOursOverRaw: Number((sec / baseSec).toFixed(2)),
      peakRssMB: ours.peakMB,
      rssGrowthMB: ours.growthMB,
      rawMqttJsRssGrowthMB: rawRun.growthMB,
      rssGrowthRatio: rawRun.growthMB > 0 ? Number((ours.growthMB / rawRun.growthMB).toFixed(2)) : null,
      aim: 'one-day backlog of 50 devices x 40 points at 1-minute summaries drained in < 60 s, <= 1.5x mqtt.js direct, RSS growth <= 15 MB',
    };
    process.stdout.write(
      `drain: ${total} records (${res.backlogMB} MB) in ${res.drainSeconds} s = ${res.recordsPerSec} records/s through the uplink vs ${res.rawMqttJsRecordsPerSec}/s mqtt.js direct (${res.rawMqttJsSeconds} s) -> ${res.ratioOursOverRaw}x (aim <= 1.5x, < 60 s); RSS growth ${res.rssGrowthMB} MB vs ${res.rawMqttJsRssGrowthMB} MB for mqtt.js direct (${res.rssGrowthRatio ?? '-'}x; each in its own process; aim <= 15 MB), peak ${res.peakRssMB} MB\n`,
    );
    return res;
  } finally {
    proc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]));
if (isMain) await benchDrain();
