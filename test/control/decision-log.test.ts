import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadContract } from '../../runtime/uplink/contract.js';
import { DECISION_LOG_MIGRATIONS, DecisionLog, DecisionLogRepository } from '../../runtime/control/decision-log.js';
import { openDatabase } from '../../runtime/persistence/database.js';
import { WriteGate } from '../../runtime/control/write-gate.js';
import type { WriteBackend } from '../../runtime/services.js';
import { ModbusWriteBackend, verify } from '../../runtime/control/backends.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';

const contract = loadContract();

/** The decision log's table in an in-memory database, through its migration. */
const memoryRepo = () => new DecisionLogRepository(openDatabase({ file: ':memory:', migrations: [DECISION_LOG_MIGRATIONS] }));

function setup(dryRun: boolean, backend?: Partial<WriteBackend>) {
  const repo = memoryRepo();
  const sent: Record<string, unknown>[] = [];
  let seq = 0;
  const outbox = {
    enqueue(stream: string, record: Record<string, unknown>) {
      expect(stream).toBe('decision');
      seq++;
      sent.push({ id: `gw/decision/${seq}`, seq, ...record });
      return { seq };
    },
  };
  const writes: unknown[] = [];
  const gate = new WriteGate({
    dryRun,
    clock: { now: () => 1781604120000 },
    sinks: [new DecisionLog(repo, outbox)],
    backends: [{ canWrite: (d) => d === 'load', write: async (r) => (writes.push(r), { status: 'verified' }), ...backend }],
  });
  return { repo, sent, gate, writes };
}

describe('decision log: SQLite rules_decisions and the outbox stream `decision`', () => {
  it('records every decision with rule, inputs and reason; the uplink record matches decision.v1', async () => {
    const { repo, sent, gate, writes } = setup(false);
    await gate.write({ device: 'load', point: 'relay', value: true, rule: 'r1', reason: 'surplus', inputs: { grid_power: -6000, previous: false } });
    await gate.write({ device: 'pv', point: 'limit', value: 5, rule: 'r2', reason: 'x' });
    expect(writes).toHaveLength(1);
    const rows = repo.read();
    expect(rows.map((r) => [r.rule, r.status, r.error ?? null])).toEqual([
      ['r1', 'verified', null],
      ['r2', 'failed', 'no write backend for pv.limit'],
    ]);
    expect(rows[0]!.inputs).toEqual({ grid_power: -6000, previous: false });
    const validate = contract.record('decision', 1)!;
    for (const rec of sent) expect(validate(rec), JSON.stringify(validate.errors)).toBe(true);
    expect(sent[0]).toMatchObject({ ts: 1781604120000, time: '2026-06-16T10:02:00.000Z', device: 'load', point: 'relay', value: true, dryRun: false });
  });

  it('dry-run: the gate never calls the backend, and logs the decision as dry-run', async () => {
    const { repo, gate, writes } = setup(true);
    const r = await gate.write({ device: 'load', point: 'relay', value: true, rule: 'r1', reason: 'why' });
    expect(r.status).toBe('dry-run');
    expect(writes).toHaveLength(0);
    expect(gate.counts).toEqual({ written: 0, dryRun: 1, failed: 0 });
    expect(repo.read()[0]).toMatchObject({ status: 'dry-run', dryRun: true });
  });

  it('a backend that throws is a failed decision, not a crash', async () => {
    const { repo, gate } = setup(false, { write: async () => { throw new Error('exception 02'); } });
    expect((await gate.write({ device: 'load', point: 'relay', value: false, reason: 'x' })).status).toBe('failed');
    expect(repo.read()[0]).toMatchObject({ status: 'failed', error: 'exception 02', rule: 'manual' });
  });

  it('Modbus writes are verified by read-back: a value the device does not confirm is a failed decision', async () => {
    const { profiles } = loadBuiltinProfiles();
    const readBacks: Record<string, number | boolean> = { 'load/relay': false, 'battery/power_setpoint': 5000, 'battery/control_mode': 2 };
    const backend = new ModbusWriteBackend({ writePoint: async (d, p) => ({ readBack: readBacks[`${d}/${p}`]! }) }, demoSiteConfig({ tcpPort: 1 }), profiles);
    const repo = memoryRepo();
    const gate = new WriteGate({ dryRun: false, sinks: [new DecisionLog(repo)], backends: [backend] });
    expect(backend.canWrite('load', 'relay')).toBe(true);
    expect(backend.canWrite('load', 'active_power')).toBe(false); // input register: read-only
    expect((await gate.write({ device: 'load', point: 'relay', value: true, reason: 'x' })).status).toBe('failed');
    expect((await gate.write({ device: 'battery', point: 'power_setpoint', value: 5000, reason: 'x' })).status).toBe('verified');
    expect((await gate.write({ device: 'battery', point: 'control_mode', value: 3, reason: 'x' })).status).toBe('failed');
    expect(repo.read().map((d) => d.error ?? null)).toEqual(['read-back false does not confirm the written true', null, 'read-back 2 does not confirm the written 3']);
    // within one register step of a scaled register is a confirmation; booleans accept 0/1
    expect(verify(12.3, 12.34, 0.1)).toBeUndefined();
    expect(verify(12.3, 12.5, 0.1)).toMatch(/does not confirm/);
    expect(verify(true, 1, 1)).toBeUndefined();
    expect(verify(false, 'x', 1)).toMatch(/does not confirm/);
  });

  it('the contract example validates against decision.v1 and the envelope', () => {
    const ex = JSON.parse(readFileSync(path.join(contract.dir, 'examples', 'decision.json'), 'utf8')) as { records: unknown[] };
    expect(contract.envelope(ex), JSON.stringify(contract.envelope.errors)).toBe(true);
    const validate = contract.record('decision', 1)!;
    for (const r of ex.records) expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
  });
});

describe('decision log atomicity', () => {
  it('the local row and the uplink record commit together: a failing outbox leaves no local row either', () => {
    const repo = memoryRepo();
    let fail = true;
    const enqueued: unknown[] = [];
    const outbox = {
      enqueue(_stream: string, record: Record<string, unknown>) {
        if (fail) throw new Error('disk I/O error');
        enqueued.push(record);
        return { seq: enqueued.length };
      },
    };
    const log = new DecisionLog(repo, outbox);
    const decision = {
      ts: 1781604120000,
      device: 'load',
      point: 'relay',
      value: true,
      rule: 'r1',
      reason: 'on-condition true',
      inputs: { 'grid.active_power': -4200 },
      status: 'verified' as const,
      dryRun: false,
    };
    expect(() => log.record(decision)).toThrow(/disk I\/O error/);
    expect(repo.read()).toHaveLength(0);
    fail = false;
    log.record(decision);
    expect(repo.read()).toHaveLength(1);
    expect(enqueued).toHaveLength(1);
  });
});
