import { loadSiteConfigFile } from '../site.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';
import { runGatewayProcess } from '../gateway-process.js';
import { GATEWAY_EXIT_CODES } from '../exit-codes.js';
import { cliLogger } from '../log-format.js';

const usage = 'carbonedge run --config FILE [--uplink URL] [--http HOST:PORT] [--data DIR] [--dry-run] [--log-format pretty|json]';

export const command: Command = {
  summary: 'Run the gateway on a site configuration until SIGINT/SIGTERM (exit codes: README, "Exit codes").',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        config: { type: 'string', short: 'c' },
        uplink: { type: 'string' },
        http: { type: 'string' },
        data: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'log-format': { type: 'string' },
      });
      if (!values.config) throw new UsageError('--config FILE is required');
      const logger = cliLogger(values['log-format']);
      const site = await loadSiteConfigFile(values.config);
      return runGatewayProcess(
        site,
        {
          uplinkUrl: values.uplink,
          http: values.http,
          dataDir: values.data,
          dryRun: values['dry-run'] ? true : undefined,
        },
        { logger },
      );
    }, GATEWAY_EXIT_CODES),
};
