import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/peers.js';
import { AedesBroker } from './aedes-broker.js';
import { drain, lastSeqs, startGateway } from './scenarios.js';
import { assertBuilt } from './child-gateway.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'carbonedge.js');

let broker: AedesBroker;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-receive-cli-'));
beforeAll(async () => {
  broker = await AedesBroker.start();
});
afterAll(async () => {
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('carbonedge receive', () => {
  it('prints each message and a summary with no gaps (--json), and stores records in --db', async () => {
    assertBuilt();
    const db = path.join(dir, 'rx.db');
    const proc = spawn(process.execPath, [CLI, 'receive', '--url', broker.url, '--db', db, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number>((r) => proc.once('exit', (code) => r(code ?? -1)));
    try {
      // Printed once the subscription is acknowledged.
      await waitFor(() => out.includes('receiving from'), 20_000, 'receiver subscribed');
      const t = await startGateway({ dataDir: path.join(dir, 'gw'), url: broker.url });
      await waitFor(() => t.store.outbox.lastSeq('readings-1m') >= 12, 30_000, 'summaries');
      await drain(t);
      const last = lastSeqs(t.store)['readings-1m']!;
      await t.gw.stop();
      await waitFor(() => out.includes(`"lastSeq":${last}`), 20_000, 'last message printed');
    } finally {
      proc.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const lines = out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.find((l) => l.type === 'summary') as { stats: { invalidRecords: number }; gaps: { stream: string; missing: unknown[]; firstSeq: number }[] };
    expect(summary.stats.invalidRecords).toBe(0);
    const g = summary.gaps.find((x) => x.stream === 'readings-1m')!;
    expect(g).toMatchObject({ firstSeq: 1, missing: [] });
    expect(lines.some((l) => l.type === 'message' && l.stream === 'readings-1m')).toBe(true);
    expect(fs.existsSync(db)).toBe(true);
  });

  it('rejects a missing --url with usage and exit code 2', async () => {
    const proc = spawn(process.execPath, [CLI, 'receive'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number>((r) => proc.once('exit', (c) => r(c ?? -1)));
    expect(code).toBe(2);
    expect(err).toMatch(/--url URL is required/);
  });
});
