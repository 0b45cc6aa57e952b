/**
 * `store.maxBytes` bounds what the store occupies on disk: the database file, its WAL and its
 * `-shm`, measured with stat() after every flush under heavy writes to a small cap.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../runtime/store/store.js';
import type { Reading } from '../../runtime/types.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function onDisk(file: string): number {
  let total = 0;
  for (const s of ['', '-wal', '-shm']) if (fs.existsSync(file + s)) total += fs.statSync(file + s).size;
  return total;
}

describe('byte cap counts the WAL', () => {
  it('a 1 MiB cap under heavy writes: database + WAL + shm stay within the cap plus a margin of 1/8 (measured: 0.87 MiB peak; 8.2 MB WAL before)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-walcap-'));
    dirs.push(dir);
    const cap = 1024 * 1024;
    // Margin: part of what one flush (2400 readings, 400 summaries) adds before the cap is enforced at its end.
    const margin = cap / 8;
    const clock = { t: T0, now: () => clock.t };
    const store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0, maxBytes: cap } });
    const file = store.file;
    let peak = 0;
    let peakWal = 0;
    for (let m = 0; m < 30; m++) {
      for (let sec = 0; sec < 60; sec += 10) {
        const ts = T0 + m * MIN + sec * 1000;
        const batch: Reading[] = [];
        for (let p = 0; p < 400; p++) batch.push({ device: 'd', point: `p${p}`, value: p * 1000 + sec, quality: 'good', ts, source: 'test' });
        store.ingest(batch);
      }
      clock.t = T0 + (m + 1) * MIN + 3000;
      store.flush();
      if (m % 5 === 4) store.maintain();
      peak = Math.max(peak, onDisk(file));
      peakWal = Math.max(peakWal, fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    }
    const st = store.stats();
    // The cap was reached (data dropped by policy), and the files on disk stayed bounded throughout.
    expect(st.dropped.rawByCap).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(cap + margin);
    expect(peakWal).toBeLessThanOrEqual(cap / 8);
    // store-stats' fileBytes is that same on-disk total (database, WAL and shm).
    expect(st.fileBytes).toBe(onDisk(file));
    expect(st.fileBytes).toBeLessThanOrEqual(cap + margin);
    store.close();
  }, 120_000);
});
