import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ConfigError, type ConfigIssue } from '../../../runtime/config/errors.js';
import { accountingStore, STORE_OPTIONS } from '../acct-store.js';
import { parseSource } from '../../../runtime/config/yaml-source.js';
import type { InstrumentConfig } from '../../../runtime/accounting/config-schema.js';
import { checkInstrument, listInstruments, recordInstrument } from '../../../runtime/accounting/instruments.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge instruments (--config FILE [--data DIR] | --db FILE [--timezone TZ])\n' +
  '         (--add --type GEC|green-power-contract|PPA|I-REC --mwh N [--serials S[,S...]] [--vintage Y] [--evidence TEXT] [--valid-from DATE] [--valid-to DATE]\n' +
  '          | --file FILE | --list) [--json]';

const TYPES = ['GEC', 'green-power-contract', 'PPA', 'I-REC'];

export const command: Command = {
  summary:
    'Record contractual instruments (green certificates, green-power contracts) pushed after the config: written to the store, the running gateway applies them from the next quarter-hour; --list shows balances.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        ...STORE_OPTIONS,
        file: { type: 'string' },
        type: { type: 'string' },
        mwh: { type: 'string' },
        serials: { type: 'string' },
        vintage: { type: 'string' },
        evidence: { type: 'string' },
        'valid-from': { type: 'string' },
        'valid-to': { type: 'string' },
      });
      const actions = [!!values.add, values.file !== undefined, !!values.list].filter(Boolean).length;
      if (actions !== 1) throw new UsageError('give exactly one of --add, --file FILE, --list');
      const { dbFile, cal } = await accountingStore(values, 'instruments');

      // Everything to record, validated in full before anything is written.
      let batch: { ins: InstrumentConfig; where: string; file: string }[] = [];
      let locate: (p: string) => { line?: number; column?: number } = () => ({});
      if (values.add) {
        if (!values.type || !TYPES.includes(values.type)) throw new UsageError(`--type is required: one of ${TYPES.join(', ')}`);
        const mwh = Number(values.mwh);
        if (values.mwh === undefined || !(mwh > 0)) throw new UsageError(`--mwh expects a positive number of MWh, got '${values.mwh ?? ''}'`);
        const ins: Record<string, unknown> = { type: values.type, MWh: mwh };
        if (values.serials) ins.serials = values.serials.split(',').map((x) => x.trim()).filter(Boolean);
        if (values.vintage) ins.vintage = /^\d{4}$/.test(values.vintage) ? Number(values.vintage) : values.vintage;
        if (values.evidence) ins.evidence = values.evidence;
        if (values['valid-from']) ins.validFrom = values['valid-from'];
        if (values['valid-to']) ins.validTo = values['valid-to'];
        batch = [{ ins: ins as unknown as InstrumentConfig, where: '', file: 'command line' }];
      } else if (values.file !== undefined) {
        const src = parseSource(readFileSync(values.file, 'utf8'), values.file);
        if (src.syntaxIssues.length) throw new ConfigError(src.syntaxIssues, 'the instruments file cannot be read');
        locate = (p) => src.locate(p);
        const doc = src.value as { instruments?: unknown } | unknown[];
        const list = Array.isArray(doc) ? doc : (doc as { instruments?: unknown })?.instruments;
        if (!Array.isArray(list) || !list.length) {
          throw new ConfigError([{ file: values.file, path: '', message: 'expected a list of instruments (or `instruments: [...]`), each {type, MWh, serials?, vintage?, evidence?, validFrom?, validTo?}' }]);
        }
        const base = Array.isArray(doc) ? '' : '/instruments';
        batch = list.map((ins, i) => ({ ins: ins as InstrumentConfig, where: `${base}/${i}`, file: values.file! }));
      }
      const issues: ConfigIssue[] = [];
      for (const b of batch) {
        for (const i of checkInstrument(b.ins, b.file, b.where)) issues.push({ ...locate(i.path), ...i });
      }
      if (issues.length) throw new ConfigError(issues, 'instruments NOT recorded (nothing is claimed without evidence)');

      const db = new Database(dbFile, values.list ? { fileMustExist: true } : {});
      try {
        db.pragma('busy_timeout = 5000');
        if (values.list) {
          const rows = listInstruments(db);
          if (values.json) {
            process.stdout.write(`${JSON.stringify(rows.map((r) => ({ ...r.spec, key: r.key, totalMWh: r.totalWh / 1e6, remainingMWh: r.remainingWh / 1e6 })), null, 2)}\n`);
          } else if (!rows.length) process.stdout.write('no contractual instruments recorded\n');
          else {
            for (const r of rows) {
              const evidence = r.spec.serials?.length ? `serials ${r.spec.serials.join(', ')}` : `evidence: ${r.spec.evidence}`;
              process.stdout.write(
                `${r.spec.type} ${r.spec.MWh} MWh${r.spec.vintage !== undefined ? `, vintage ${r.spec.vintage}` : ''}: ${(r.remainingWh / 1e6).toFixed(6)} MWh unused; ${evidence}\n`,
              );
            }
          }
          return 0;
        }
        const now = Date.now();
        const results = db.transaction(() =>
          batch.map((b) => {
            const r = recordInstrument(db, b.ins, (ts) => cal.dayStart(ts), now, b.file);
            if (r.issues.length) throw new ConfigError(r.issues.map((i) => ({ ...i, path: `${b.where}${i.path}` })), 'instruments NOT recorded');
            return { ...b.ins, key: r.key, added: r.added };
          }),
        )();
        if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else {
          for (const r of results) {
            process.stdout.write(
              r.added
                ? `recorded ${r.type} ${r.MWh} MWh: covers grid import of its period from the next quarter-hour the gateway closes\n`
                : `${r.type} ${r.MWh} MWh was already recorded (same serials/evidence): not counted twice\n`,
            );
          }
        }
        return 0;
      } finally {
        db.close();
      }
    }),
};
