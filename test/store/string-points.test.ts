import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../runtime/store/store.js';
import { loadContract } from '../../runtime/uplink/contract.js';
import type { Reading } from '../../runtime/types.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const text = (point: string, value: string | null, ts: number): Reading => ({ device: 'pv', point, value, ts, quality: value === null ? 'comm-error' : 'good', source: 'test' });
const records = (store: Store, stream: string) => store.outbox.readOutbox(stream, 0, 1_000_000).map((r) => JSON.parse(r.payload) as Record<string, unknown>);

describe('string points (manufacturer, model, serial) in readings records', () => {
  const contract = loadContract();

  it('are sent as text with quality good, not as null; valid against the contract', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-store-text-'));
    dirs.push(dir);
    const clock = { t: T0, now: () => clock.t };
    const open = () => new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    let store = open();
    store.ingest([text('manufacturer', 'SunSpec Demo', T0), text('serial', 'SN-0001', T0), text('serial', null, T0 + 10_000)]);
    clock.t = T0 + 20_000;
    store.flush();
    // a restart within the minute: the open bucket is rebuilt from the raw readings, text included
    store.close();
    store = open();
    store.ingest([text('manufacturer', 'SunSpec Demo', T0 + 30_000)]);
    clock.t = T0 + 15 * MIN + 3000;
    store.flush();
    const r1 = records(store, 'readings-1m');
    const m = r1.find((r) => r.point === 'manufacturer')!;
    expect(m).toMatchObject({ text: 'SunSpec Demo', last: null, mean: null, samples: 2, quality: 'good' });
    expect(r1.find((r) => r.point === 'serial')).toMatchObject({ text: 'SN-0001', samples: 2, quality: 'partial' });
    const r15 = records(store, 'readings-15m');
    expect(r15.find((r) => r.point === 'manufacturer')).toMatchObject({ text: 'SunSpec Demo', quality: 'good' });
    expect(r15.find((r) => r.point === 'serial')).toMatchObject({ text: 'SN-0001' });
    for (const [stream, rs] of [['readings-1m', r1], ['readings-15m', r15]] as const) {
      const validate = contract.record(stream, 1)!;
      for (const r of rs) expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
    }
    store.close();
  });
});
