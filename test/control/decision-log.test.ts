import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadContract } from '../../runtime/uplink/contract.js';
import { DECISION_LOG_MIGRATIONS, DECISION_STREAM, DecisionLog, DecisionLogRepository } from '../../runtime/control/decision-log.js';
import { openDatabase } from '../../runtime/persistence/database.js';
import { WriteGate, type Decision } from '../../runtime/control/write-gate.js';
import { silentLogger } from '../../runtime/logger.js';
import { SqliteOutbox } from '../../runtime/outbox/sqlite-outbox.js';
import { STORE_MIGRATIONS } from '../../runtime/store/migrations.js';
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
    const gate = new WriteGate({ dryRun: false, sinks: [new DecisionLog(repo, undefined)], backends: [backend] });
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
  // The real outbox and the decision log on one database, as the gateway wires them.
  function wired() {
    const persistence = openDatabase({ file: ':memory:', migrations: [STORE_MIGRATIONS, DECISION_LOG_MIGRATIONS] });
    const repo = new DecisionLogRepository(persistence);
    const outbox = new SqliteOutbox(persistence, { gatewayId: 'gw', clock: { now: () => 1781604120000 }, logger: silentLogger() });
    return { persistence, repo, outbox, log: new DecisionLog(repo, outbox) };
  }
  const decision = (rule: string): Decision => ({
    ts: 1781604120000,
    device: 'load',
    point: 'relay',
    value: true,
    rule,
    reason: 'on-condition true',
    inputs: { 'grid.active_power': -4200 },
    status: 'verified',
    dryRun: false,
  });
  const uplink = (outbox: SqliteOutbox) => outbox.readOutbox(DECISION_STREAM, 0, 100).map((r) => JSON.parse(r.payload) as Record<string, unknown>);

  it('the local row and the uplink record commit together: an outbox insert that fails inside the unit of work leaves no local row either', () => {
    const { persistence, repo, outbox, log } = wired();
    // The outbox's own INSERT fails after the decision row was written in the same transaction.
    persistence.db.exec("CREATE TEMP TRIGGER outbox_full BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    expect(() => log.record(decision('r1'))).toThrow(/database or disk is full/);
    expect(repo.read()).toEqual([]);
    expect(uplink(outbox)).toEqual([]);
    expect(outbox.lastSeq(DECISION_STREAM)).toBe(0);

    persistence.db.exec('DROP TRIGGER outbox_full');
    log.record(decision('r2'));
    expect(repo.read().map((d) => d.rule)).toEqual(['r2']);
    // The failed attempt consumed no sequence number: the committed record is decision/1.
    expect(uplink(outbox)).toMatchObject([{ id: `gw/decision/${outbox.epoch}-1`, seq: 1, rule: 'r2', device: 'load', value: true }]);
    expect(contract.record('decision', 1)!(uplink(outbox)[0])).toBe(true);
    persistence.close();
  });

  it('inside an enclosing unit of work both roll back with it, and both commit with it', () => {
    const { persistence, repo, outbox, log } = wired();
    expect(() =>
      persistence.unitOfWork(() => {
        log.record(decision('r1'));
        throw new Error('tick failed after logging');
      }),
    ).toThrow(/tick failed/);
    expect(repo.read()).toEqual([]);
    expect(uplink(outbox)).toEqual([]);
    expect(outbox.lastSeq(DECISION_STREAM)).toBe(0);

    persistence.unitOfWork(() => {
      log.record(decision('r2'));
      log.record(decision('r3'));
    });
    expect(repo.read().map((d) => d.rule)).toEqual(['r2', 'r3']);
    expect(uplink(outbox).map((r) => [r.seq, r.rule])).toEqual([
      [1, 'r2'],
      [2, 'r3'],
    ]);
    expect(outbox.lastSeq(DECISION_STREAM)).toBe(2);
    persistence.close();
  });
});
