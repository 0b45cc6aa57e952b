import Database from 'better-sqlite3';
import { ConfigError } from '../../../runtime/config/errors.js';
import { ajvIssues, createAjv } from '../../../runtime/config/ajv-issues.js';
import { checkOffset, listOffsets, offsetClaimPeriod, offsetSchema, recordOffset, type OffsetSpec } from '../../../runtime/accounting/offsets.js';
import { accountingStore, STORE_OPTIONS } from '../acct-store.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge offsets (--config FILE [--data DIR] | --db FILE)\n' +
  '         (--add --type CCER|VCS|GS|... --tco2 N --vintage YEAR --project ID --retired-on DATE [--serials S[,S...]] [--evidence TEXT] [--claim-from DATE --claim-to DATE]\n' +
  '          | --list) [--json]';

export const command: Command = {
  summary: 'Record retired carbon credits (offsets; CCER preferred) in the store for the net balance (checked: evidence, serials claimed once); --list shows them.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        ...STORE_OPTIONS,
        type: { type: 'string' },
        tco2: { type: 'string' },
        vintage: { type: 'string' },
        project: { type: 'string' },
        'retired-on': { type: 'string' },
        serials: { type: 'string' },
        evidence: { type: 'string' },
        'claim-from': { type: 'string' },
        'claim-to': { type: 'string' },
      });
      if (!!values.add === !!values.list) throw new UsageError('give exactly one of --add, --list');
      const { dbFile } = await accountingStore(values, 'offsets');
      if (values.list) {
        const db = new Database(dbFile, { readonly: true, fileMustExist: true });
        try {
          const rows = listOffsets(db);
          if (values.json) process.stdout.write(`${JSON.stringify(rows.map((r) => ({ ...r.spec, key: r.key, claimFor: offsetClaimPeriod(r.spec) })), null, 2)}\n`);
          else if (!rows.length) process.stdout.write('no offsets recorded\n');
          else {
            for (const { spec: o } of rows) {
              const p = offsetClaimPeriod(o);
              process.stdout.write(`${o.type} ${o.tCO2} tCO2, vintage ${o.vintage}, project ${o.project}, retired ${o.retiredOn}, for ${p.from}..${p.to}; ${o.serials?.length ? `serials ${o.serials.join(', ')}` : `evidence: ${o.evidence}`}\n`);
            }
          }
        } finally {
          db.close();
        }
        return 0;
      }
      const tco2 = Number(values.tco2);
      if (values.tco2 === undefined || !(tco2 > 0)) throw new UsageError(`--tco2 expects a positive number of tCO2, got '${values.tco2 ?? ''}'`);
      const spec: Record<string, unknown> = {
        type: values.type,
        tCO2: tco2,
        vintage: values.vintage && /^\d{4}$/.test(values.vintage) ? Number(values.vintage) : values.vintage,
        project: values.project,
        retiredOn: values['retired-on'],
      };
      if (values.serials) spec.serials = values.serials.split(',').map((x) => x.trim()).filter(Boolean);
      if (values.evidence) spec.evidence = values.evidence;
      if (values['claim-from'] || values['claim-to']) spec.claimFor = { from: values['claim-from'], to: values['claim-to'] };
      const validate = createAjv().compile(offsetSchema);
      if (!validate(spec)) throw new ConfigError(ajvIssues(validate.errors, 'command line', spec), 'offset NOT recorded');
      const o = spec as unknown as OffsetSpec;
      const issues = checkOffset(o, 'command line', '');
      if (issues.length) throw new ConfigError(issues, 'offset NOT recorded (nothing is claimed without evidence)');
      const db = new Database(dbFile);
      try {
        db.pragma('busy_timeout = 5000');
        const r = recordOffset(db, o, Date.now(), 'command line');
        if (r.issues.length) throw new ConfigError(r.issues, 'offset NOT recorded');
        if (values.json) process.stdout.write(`${JSON.stringify({ ...o, key: r.key, added: r.added }, null, 2)}\n`);
        else process.stdout.write(r.added ? `recorded offset ${o.type} ${o.tCO2} tCO2 (project ${o.project}): counted in the net balance of ${offsetClaimPeriod(o).from}..${offsetClaimPeriod(o).to}\n` : `offset ${o.type} ${o.tCO2} tCO2 was already recorded (same serials): not counted twice\n`);
        return 0;
      } finally {
        db.close();
      }
    }),
};
