import { loadSiteConfigFile } from '../site.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage = 'carbonedge check --config FILE [--json]';

export const command: Command = {
  summary: 'Validate a site configuration (schema, profiles, cross references, rules) and exit non-zero on errors.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
      if (!values.config) throw new UsageError('--config FILE is required');
      try {
        const { config, profiles } = await loadSiteConfigFile(values.config);
        const summary = {
          ok: true,
          file: values.config,
          site: config.site.id,
          gateway: config.gateway.id,
          buses: config.buses.length,
          devices: config.devices.map((d) => ({ id: d.id, role: d.role, profile: d.profile, points: profiles.get(d.profile)?.points.length ?? 0 })),
          rules: Array.isArray(config.rules) ? config.rules.length : 0,
        };
        if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else
          process.stdout.write(
            `${values.config}: OK (site ${summary.site}, gateway ${summary.gateway}, ${summary.buses} bus(es), ${summary.devices.length} device(s), ${summary.rules} rule(s))\n`,
          );
        return 0;
      } catch (err) {
        if (values.json && err instanceof Error && 'issues' in err) {
          process.stdout.write(`${JSON.stringify({ ok: false, file: values.config, issues: (err as { issues: unknown }).issues }, null, 2)}\n`);
          process.stderr.write(`${err.message}\n`);
          return 1;
        }
        throw err;
      }
    }),
};
