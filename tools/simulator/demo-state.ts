/**
 * The demo simulators' state between runs (`<data dir>/demo-simulator.json`): every counter and
 * the battery's state of charge, so a second `npm start` continues the simulated meters where the
 * first stopped instead of starting them over (which the store would log as counter resets).
 * Written temp -> fsync -> rename, so a power cut leaves the old file or the new one, never half.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { DemoCounters, DemoSite } from './demo-site.js';

export const DEMO_STATE_FILE = 'demo-simulator.json';

export interface DemoState {
  v: 1;
  counters: DemoCounters;
  soc: number;
  savedAt: number;
}

/** The saved state in `dataDir`, or undefined (none yet, or unreadable: start from the defaults). */
export function loadDemoState(dataDir: string): DemoState | undefined {
  try {
    const s = JSON.parse(readFileSync(path.join(dataDir, DEMO_STATE_FILE), 'utf8')) as Partial<DemoState>;
    if (s.v !== 1 || !s.counters || typeof s.soc !== 'number') return undefined;
    const values = Object.values(s.counters);
    if (!values.length || !values.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) return undefined;
    return s as DemoState;
  } catch {
    return undefined;
  }
}

export function saveDemoState(dataDir: string, site: DemoSite, now: number): void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, DEMO_STATE_FILE);
  const tmp = `${file}.tmp`;
  const state: DemoState = { v: 1, counters: site.counters(), soc: site.soc(), savedAt: now };
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(state));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename itself survives a power cut only once the directory entry is on disk.
  const dir = openSync(dataDir, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
