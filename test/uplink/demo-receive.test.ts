/**
 * The "done when": `carbonedge demo --uplink URL` fills the store, and `carbonedge
 * receive` shows the summaries arriving with no gaps. Both are the real CLI processes (dist/),
 * against an aedes broker on loopback. The gateway's clock is the wall clock, so the first
 * 1-minute summary closes at the next minute boundary (this test takes up to about 70 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/peers.js';
import { AedesBroker } from './aedes-broker.js';
import { assertBuilt } from './child-gateway.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'carbonedge.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-demo-receive-'));
const procs = new Set<ChildProcess>();
let broker: AedesBroker | undefined;

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): { proc: ChildProcess; out: () => string; err: () => string; exit: Promise<number> } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number>((r) =>
    proc.once('exit', (code) => {
      procs.delete(proc);
      r(code ?? -1);
    }),
  );
  return { proc, out: () => out, err: () => err, exit };
}

const jsonLines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('carbonedge demo --uplink + carbonedge receive', () => {
  it('the demo fills the store and the receiver shows its summaries arriving with no gaps', async () => {
    assertBuilt();
    broker = await AedesBroker.start();
    const rx = cli(['receive', '--url', broker.url, '--db', path.join(dir, 'rx.db'), '--json']);
    await waitFor(() => rx.err().includes('receiving from'), 20_000, 'receiver subscribed');
    const data = path.join(dir, 'data');
    const demo = cli(['demo', '--uplink', broker.url, '--data', data, '--seed', '3']);
    const messages = () => jsonLines(rx.out()).filter((l) => l.type === 'message' && l.kind === 'data');
    try {
      await waitFor(() => messages().some((m) => m.stream === 'readings-1m'), 100_000, 'readings-1m summaries at the receiver');
    } catch (e) {
      throw new Error(`${(e as Error).message}\ndemo stderr (tail):\n${demo.err().slice(-3000)}`);
    }
    demo.proc.kill('SIGTERM');
    expect(await demo.exit).toBe(0);
    // Records the broker acknowledged to the demo have left its outbox but may still be on their
    // way to the receiver: stop the receiver only once it has printed every one of them.
    const acked = (() => {
      const db = new Database(path.join(data, 'carbonedge.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT stream, last_seq FROM outbox_seq').all() as { stream: string; last_seq: number }[]).map(({ stream, last_seq }) => {
          const firstWaiting = db.prepare('SELECT min(seq) FROM outbox WHERE stream = ?').pluck().get(stream) as number | null;
          return { stream, upTo: firstWaiting === null ? last_seq : firstWaiting - 1 };
        });
      } finally {
        db.close();
      }
    })();
    const printedUpTo = (stream: string) =>
      Math.max(0, ...messages().filter((m) => m.gateway === 'demo-gateway' && m.stream === stream).map((m) => Number(m.lastSeq)));
    await waitFor(() => acked.every(({ stream, upTo }) => printedUpTo(stream) >= upTo), 20_000, 'receiver printed every acknowledged record');
    rx.proc.kill('SIGINT');
    expect(await rx.exit).toBe(0); // exit code 1 would mean gaps or invalid messages
    const summary = jsonLines(rx.out()).find((l) => l.type === 'summary') as {
      stats: { records: number; invalidMessages: number; invalidRecords: number; unvalidatedRecords: number };
      gaps: { gateway: string; stream: string; firstSeq: number; lastSeq: number; missing: unknown[] }[];
    };
    expect(summary.stats).toMatchObject({ invalidMessages: 0, invalidRecords: 0, unvalidatedRecords: 0 });
    const streams = summary.gaps.filter((g) => g.gateway === 'demo-gateway');
    expect(streams.map((g) => g.stream)).toContain('readings-1m');
    for (const g of streams) expect(g, g.stream).toMatchObject({ firstSeq: 1, missing: [] });
    // The demo's store: readings persisted; what the receiver lacks is exactly what is still
    // waiting in the outbox (the newest records, not yet acknowledged at the stop).
    const db = new Database(path.join(data, 'carbonedge.db'), { readonly: true, fileMustExist: true });
    try {
      expect(db.prepare('SELECT count(*) FROM readings_raw').pluck().get() as number).toBeGreaterThan(0);
      for (const { stream, last_seq } of db.prepare('SELECT stream, last_seq FROM outbox_seq').all() as { stream: string; last_seq: number }[]) {
        const received = streams.find((g) => g.stream === stream)?.lastSeq ?? 0;
        const waiting = db.prepare('SELECT seq FROM outbox WHERE stream = ? AND seq > ? ORDER BY seq').pluck().all(stream, received) as number[];
        expect([...Array(received).keys()].map((i) => i + 1).concat(waiting), stream).toEqual([...Array(last_seq).keys()].map((i) => i + 1));
      }
    } finally {
      db.close();
    }
  }, 150_000);
});
