import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { verifyStore } from '../../../runtime/accounting/verify.js';
import { Calendar } from '../../../runtime/accounting/calendar.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage = 'carbonedge verify [--db FILE] [--period FROM..TO] [--timezone TZ] [--json]';

/** [from, to) ms of a period: local dates YYYY-MM-DD..YYYY-MM-DD (inclusive), or ISO instants. */
function periodMs(period: string, cal: Calendar): { from: number; to: number } {
  const [a, b] = period.split('..');
  const date = /^\d{4}-\d{2}-\d{2}$/;
  if (!a || !b) throw new UsageError(`--period expects FROM..TO, got '${period}'`);
  const from = date.test(a) ? cal.dayStart(Date.parse(`${a}T12:00:00Z`)) : Date.parse(a);
  const to = date.test(b) ? cal.dayStart(Date.parse(`${b}T12:00:00Z`) + 86_400_000) : Date.parse(b);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new UsageError(`--period expects dates YYYY-MM-DD or ISO times, got '${period}'`);
  return { from, to };
}

export const command: Command = {
  summary: "Check the accounting records' hash chain and recompute each quarter-hour from the readings it keeps (and the raw readings still stored); exit 1 on any finding.",
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, { db: { type: 'string' }, period: { type: 'string' }, timezone: { type: 'string' }, json: { type: 'boolean' } });
      const file = values.db ?? path.join('.carbonedge', 'carbonedge.db');
      if (!existsSync(file)) throw new UsageError(`no store database at ${file} (give --db FILE)`);
      const { from, to } = values.period ? periodMs(values.period, new Calendar(values.timezone ?? 'UTC')) : { from: 0, to: Number.MAX_SAFE_INTEGER };
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        const r = verifyStore(db, from, to);
        if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else {
          process.stdout.write(`${r.quarters} quarter-hour records checked${r.unchained ? ` (${r.unchained} written before the audit trail, not chained)` : ''}\n`);
          for (const c of r.changed) process.stdout.write(`CHANGED  ${c}: the record no longer matches its hash\n`);
          for (const x of r.removed) process.stdout.write(`BROKEN   before ${x.before}: previous record missing or replaced (expected prevHash ${x.expectedPrev.slice(0, 12)}..., found ${x.found.slice(0, 12)}...)\n`);
          for (const x of r.recompute) process.stdout.write(`MISMATCH ${x}: the readings kept do not give the energy booked\n`);
          process.stdout.write(r.ok ? 'OK: chain intact, every quarter recomputes\n' : 'FAILED\n');
        }
        return r.ok ? 0 : 1;
      } finally {
        db.close();
      }
    }),
};
