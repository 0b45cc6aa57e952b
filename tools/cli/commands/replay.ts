import { loadSiteConfigFile } from '../site.js';
import { runReplay, type ReplayReport, type ReplaySite } from '../../../rules/replay.js';
import { localMidnight } from '../../../rules/replay-sites.js';
import { DemoReplaySite } from '../../simulator/replay-site.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage = 'carbonedge replay --config FILE [--days N] [--from-db FILE] [--no-rules] [--json] [--start YYYY-MM-DD] [--seed N]';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function table(r: ReplayReport, base?: ReplayReport): string {
  const rows: [string, string, string?][] = [
    ['green_share', pct(r.green_share), base && pct(base.green_share)],
    ['self_consumption', pct(r.self_consumption), base && pct(base.self_consumption)],
    ['grid_import_kwh', r.grid_import_kwh.toFixed(1), base?.grid_import_kwh.toFixed(1)],
    ['export_kwh', r.export_kwh.toFixed(1), base?.export_kwh.toFixed(1)],
    ['co2_kg', r.co2_kg.toFixed(1), base?.co2_kg.toFixed(1)],
    ['pv_kwh', r.pv_kwh.toFixed(1), base?.pv_kwh.toFixed(1)],
    ['consumption_kwh', r.consumption_kwh.toFixed(1), base?.consumption_kwh.toFixed(1)],
  ];
  const lines = [
    `replay of ${r.source}, ${r.days} day(s) from ${r.start} (${r.ticks} control ticks, ${r.speed} simulated s per wall s)`,
    `rules: ${r.rules.length ? r.rules.join(', ') : '(none: --no-rules)'}`,
    '',
    `${'metric'.padEnd(20)}${'with rules'.padStart(14)}${base ? 'no rules'.padStart(14) : ''}`,
    ...rows.map(([k, v, b]) => `${k.padEnd(20)}${v.padStart(14)}${b !== undefined ? b.padStart(14) : ''}`),
    '',
    'switches per output (shortest interval between two changes):',
    ...Object.entries(r.outputs).map(([o, s]) => `  ${o.padEnd(28)}${String(s.switches).padStart(6)}   ${s.min_interval_s === null ? '-' : `${s.min_interval_s} s`}`),
    '',
    r.co2_method === 'hourly'
      ? `co2_kg = sum over intervals of grid import x the hour's carbon intensity (${r.co2_factor.source}); import-weighted mean ${r.co2_factor.value} tCO2/MWh`
      : `co2_kg = grid_import_kwh x ${r.co2_factor.value} ${r.co2_factor.unit} (${r.co2_factor.id}: ${r.co2_factor.source})`,
    ...notes(r, base),
  ];
  return `${lines.join('\n')}\n`;
}

/** Plain-language notes where the numbers need reading with care. */
function notes(r: ReplayReport, base?: ReplayReport): string[] {
  const out: string[] = [];
  if (base && r.grid_import_kwh === base.grid_import_kwh && r.export_kwh === base.export_kwh) {
    out.push(
      r.export_kwh === 0 && base.export_kwh === 0
        ? `note: the rules changed nothing here: all ${r.pv_kwh.toFixed(1)} kWh of PV were used on site anyway (no export to shift).`
        : 'note: the rules changed neither grid import nor export over this period.',
    );
  } else if (base && r.days < 2) {
    out.push('note: energy the rules move into storage (battery, heat store) late in the day is used after the end of a one-day replay; --days 2 or more shows that gain in grid import.');
  }
  return out;
}

export const command: Command = {
  summary: 'What-if replay: run the site (simulated, or recorded data from the store) faster than real time, with and without its rules.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        config: { type: 'string', short: 'c' },
        days: { type: 'string' },
        'from-db': { type: 'string' },
        'no-rules': { type: 'boolean' },
        json: { type: 'boolean' },
        start: { type: 'string' },
        seed: { type: 'string' },
      });
      if (!values.config) throw new UsageError('--config FILE is required');
      const days = values.days === undefined ? 1 : Number(values.days);
      if (!Number.isFinite(days) || days <= 0 || days > 366) throw new UsageError(`--days must be a number from 1 to 366, got '${values.days}'`);
      const seed = values.seed === undefined ? 1 : Number(values.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got '${values.seed}'`);
      const { config, profiles, file } = await loadSiteConfigFile(values.config);
      const tz = config.site.timezone;
      let start: number | undefined;
      if (values.start) {
        try {
          start = localMidnight(values.start, tz);
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      }
      const makeSite = async (): Promise<ReplaySite> => {
        if (values['from-db']) {
          const { RecordedReplaySite } = await import('../../../rules/replay-recorded.js');
          return RecordedReplaySite.open(values['from-db'], config, profiles, { startMs: start, days });
        }
        const s = start ?? localMidnight(new Intl.DateTimeFormat('en-CA', { timeZone: tz ?? 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date()), tz);
        return new DemoReplaySite(config, s, { seed });
      };
      const run = async (noRules: boolean) => runReplay({ config, profiles, configFile: file, site: await makeSite(), days, noRules });
      const report = await run(!!values['no-rules']);
      const baseline = !values['no-rules'] && report.rules.length ? await run(true) : undefined;
      if (values.json) process.stdout.write(`${JSON.stringify(baseline ? { ...report, baseline } : report, null, 2)}\n`);
      else process.stdout.write(table(report, baseline));
      return 0;
    }),
};
