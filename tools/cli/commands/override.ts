import { loadSiteConfigFile } from '../site.js';
import { openSiteDatabase } from '../site-database.js';
import { parseDuration, parseOverrideValue, SqliteOverrides } from '../../../runtime/control/overrides.js';
import { SiteModel } from '../../../rules/site-model.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';
import { resolveDataDir } from '../../../runtime/config/data-dir.js';

const usage =
  'carbonedge override --config FILE [--data DIR] (--set OUTPUT=VALUE --for DURATION [--reason TEXT] [--by NAME] | --clear OUTPUT | --list) [--json]';

export const command: Command = {
  summary: 'Manual overrides of rule outputs with an expiry (e.g. --set load.relay=off --for 2h); the running gateway applies them on its next control tick.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        config: { type: 'string', short: 'c' },
        data: { type: 'string' },
        set: { type: 'string' },
        for: { type: 'string' },
        reason: { type: 'string' },
        by: { type: 'string' },
        clear: { type: 'string' },
        list: { type: 'boolean' },
        json: { type: 'boolean' },
      });
      if (!values.config) throw new UsageError('--config FILE is required (outputs are checked against the site)');
      const actions = [values.set !== undefined, values.clear !== undefined, !!values.list].filter(Boolean).length;
      if (actions !== 1) throw new UsageError('give exactly one of --set, --clear, --list');
      const { config, profiles } = await loadSiteConfigFile(values.config);
      const dataDir = resolveDataDir(config, values.data);
      const db = openSiteDatabase(dataDir);
      try {
        const store = new SqliteOverrides(db);
        const now = Date.now();
        if (values.list) {
          const list = store.list(now);
          if (values.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          else if (!list.length) process.stdout.write('no manual overrides in force\n');
          else for (const o of list) process.stdout.write(`${o.output} = ${String(o.value)} until ${new Date(o.expiresAt).toISOString()} by ${o.by}: ${o.reason}\n`);
          return 0;
        }
        if (values.clear !== undefined) {
          const had = store.clear(values.clear);
          process.stdout.write(had ? `override of ${values.clear} cleared; its rules take over on the next tick\n` : `no override of ${values.clear}\n`);
          return 0;
        }
        const eq = values.set!.indexOf('=');
        if (eq <= 0) throw new UsageError('--set takes OUTPUT=VALUE, e.g. load.relay=off or heatpump=sg2-normal');
        if (!values.for) throw new UsageError('--for DURATION is required (overrides always expire), e.g. --for 30m');
        let ms: number;
        try {
          ms = parseDuration(values.for);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const output = values.set!.slice(0, eq).trim();
        let value = parseOverrideValue(values.set!.slice(eq + 1));
        const model = new SiteModel(config, profiles);
        const ref = model.output(output);
        if (typeof ref === 'string') throw new UsageError(ref);
        if (ref.type === 'string' && typeof value === 'boolean') value = value ? 'on' : 'off';
        const bad = model.checkLiteral(ref, value);
        if (bad) throw new UsageError(bad);
        const o = { output, value, expiresAt: now + ms, reason: values.reason ?? 'manual override (CLI)', by: values.by ?? process.env.USER ?? 'cli' };
        store.set(o, now);
        if (values.json) process.stdout.write(`${JSON.stringify(o)}\n`);
        else process.stdout.write(`${output} held at ${String(value)} until ${new Date(o.expiresAt).toISOString()}${config.gateway.dryRun ? ' (the gateway is in dry-run: nothing will be written)' : ''}\n`);
        return 0;
      } finally {
        db.close();
      }
    }),
};
