import Database from 'better-sqlite3';
import { ConfigError } from '../../../runtime/config/errors.js';
import { checkMeterChange, listMeterChanges, recordMeterChange, type MeterChangeSpec } from '../../../runtime/accounting/meter-change.js';
import { accountingStore, STORE_OPTIONS } from '../acct-store.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge meter-change (--config FILE [--data DIR] | --db FILE)\n' +
  '         (--add --device ID [--point energy_import] --old-final N --new-initial N --at TIME | --list) [--json]';

export const command: Command = {
  summary: "Record a meter replacement (old counter's final reading, new counter's initial reading, time): the running gateway closes the old counter exactly instead of flagging a reset.",
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        ...STORE_OPTIONS,
        device: { type: 'string' },
        point: { type: 'string' },
        'old-final': { type: 'string' },
        'new-initial': { type: 'string' },
        at: { type: 'string' },
      });
      if (!!values.add === !!values.list) throw new UsageError('give exactly one of --add, --list');
      const { dbFile } = await accountingStore(values, 'meter changes');
      if (values.list) {
        const db = new Database(dbFile, { readonly: true, fileMustExist: true });
        try {
          const rows = listMeterChanges(db);
          if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          else if (!rows.length) process.stdout.write('no meter changes recorded\n');
          else for (const r of rows) process.stdout.write(`${new Date(r.at).toISOString()} ${r.device}/${r.point}: old final ${r.oldFinal}, new initial ${r.newInitial} (${r.status})\n`);
        } finally {
          db.close();
        }
        return 0;
      }
      const num = (name: 'old-final' | 'new-initial') => {
        const v = Number(values[name]);
        if (values[name] === undefined || !Number.isFinite(v)) throw new UsageError(`--${name} expects the counter reading (a number), got '${values[name] ?? ''}'`);
        return v;
      };
      if (!values.device || !values.at) throw new UsageError('--device and --at are required');
      const spec: MeterChangeSpec = { device: values.device, ...(values.point ? { point: values.point } : {}), oldFinal: num('old-final'), newInitial: num('new-initial'), at: /^\d+$/.test(values.at) ? Number(values.at) : values.at };
      const issues = checkMeterChange(spec, 'command line');
      if (issues.length) throw new ConfigError(issues, 'meter change NOT recorded');
      const db = new Database(dbFile);
      try {
        db.pragma('busy_timeout = 5000');
        const r = recordMeterChange(db, spec, Date.now());
        if (values.json) process.stdout.write(`${JSON.stringify({ ...r.change, added: r.added }, null, 2)}\n`);
        else process.stdout.write(r.added ? `recorded meter change ${r.change.device}/${r.change.point} at ${new Date(r.change.at).toISOString()}: the gateway closes the old counter at ${spec.oldFinal} and counts the new one from ${spec.newInitial}\n` : 'this meter change was already recorded\n');
        return 0;
      } finally {
        db.close();
      }
    }),
};
