/**
 * Decision log: every write decision (rule, inputs, reason, outcome) in SQLite table
 * `rules_decisions` of the store and, for the cloud, on the outbox stream `decision`
 * (schema runtime/uplink/contract/decision.v1.schema.json).
 */
import type { Persistence } from '../persistence/database.js';
import { hasTable, type Migration } from '../persistence/migrations.js';
import type { OutboxWriter } from '../outbox/outbox.js';
import type { Decision, DecisionSink } from './write-gate.js';

export const DECISION_STREAM = 'decision';

export const DECISION_LOG_MIGRATIONS: Migration[] = [
  {
    id: 'control/decisions/1',
    owner: 'control',
    description: 'decision log rules_decisions',
    // Before the shared migration list the table was created on first use.
    adopt: (db) => hasTable(db, 'rules_decisions'),
    sql: `CREATE TABLE rules_decisions (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      ts INTEGER NOT NULL,
      device TEXT NOT NULL,
      point TEXT NOT NULL,
      value TEXT NOT NULL,
      rule TEXT NOT NULL,
      reason TEXT NOT NULL,
      inputs TEXT NOT NULL,
      status TEXT NOT NULL,
      dry_run INTEGER NOT NULL,
      error TEXT
    );
    CREATE INDEX IF NOT EXISTS rules_decisions_ts ON rules_decisions(ts);`,
  },
];

interface DecisionRow {
  ts: number;
  device: string;
  point: string;
  value: string;
  rule: string;
  reason: string;
  inputs: string;
  status: Decision['status'];
  dry_run: number;
  error: string | null;
}

/** The SQL of table `rules_decisions`. */
export class DecisionLogRepository {
  private readonly insertRow;
  private readonly select;
  private readonly selectLatest;
  constructor(private readonly persistence: Persistence) {
    this.insertRow = persistence.db.prepare(
      'INSERT INTO rules_decisions (ts, device, point, value, rule, reason, inputs, status, dry_run, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.select = persistence.db.prepare('SELECT * FROM rules_decisions WHERE ts >= ? ORDER BY id LIMIT ?');
    this.selectLatest = persistence.db.prepare('SELECT * FROM rules_decisions ORDER BY id DESC LIMIT ?');
  }

  unitOfWork<T>(fn: () => T): T {
    return this.persistence.unitOfWork(fn);
  }

  insert(d: Decision): void {
    this.insertRow.run(d.ts, d.device, d.point, JSON.stringify(d.value), d.rule, d.reason, JSON.stringify(d.inputs), d.status, d.dryRun ? 1 : 0, d.error ?? null);
  }

  /** Recorded decisions in order (CLI, tests). */
  read(opts: { since?: number; limit?: number } = {}): Decision[] {
    return (this.select.all(opts.since ?? 0, opts.limit ?? 10_000) as DecisionRow[]).map(fromRow);
  }

  /** The `limit` latest decisions, newest first (local page and API). */
  latest(limit: number): Decision[] {
    return (this.selectLatest.all(limit) as DecisionRow[]).map(fromRow);
  }
}

function fromRow(r: DecisionRow): Decision {
  return {
    ts: r.ts,
    device: r.device,
    point: r.point,
    value: JSON.parse(r.value) as number | boolean,
    rule: r.rule,
    reason: r.reason,
    inputs: JSON.parse(r.inputs) as Record<string, unknown>,
    status: r.status,
    dryRun: r.dry_run === 1,
    ...(r.error ? { error: r.error } : {}),
  };
}

/** The `decision` record sent upstream (decision.v1). */
export function decisionRecord(d: Decision): Record<string, unknown> {
  return {
    ts: d.ts,
    time: new Date(d.ts).toISOString(),
    device: d.device,
    point: d.point,
    value: d.value,
    rule: d.rule,
    reason: d.reason,
    inputs: d.inputs,
    status: d.status,
    dryRun: d.dryRun,
    ...(d.error ? { error: d.error } : {}),
  };
}

export class DecisionLog implements DecisionSink {
  constructor(
    private readonly repo: DecisionLogRepository | undefined,
    private readonly outbox: OutboxWriter | undefined,
  ) {}

  /**
   * Log one decision locally and for the uplink. The outbox lives in the same database, so both
   * rows commit in one unit of work: a crash never leaves one without the other.
   */
  record(d: Decision): void {
    const write = () => {
      this.repo?.insert(d);
      this.outbox?.enqueue(DECISION_STREAM, decisionRecord(d));
    };
    if (this.repo) this.repo.unitOfWork(write);
    else write();
  }
}
