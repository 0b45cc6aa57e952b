import { createRequire } from 'node:module';
import path from 'node:path';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';
import { DATA_DIR_ENV } from '../../../runtime/config/data-dir.js';
import { backup, siteFiles } from '../backup/backup.js';

const usage = 'carbonedge backup FILE [--config FILE] [--data DIR] [--json]';

export const command: Command = {
  summary: 'Back up the site database (consistent online copy, also while the gateway runs), the site config and its profile directories into one archive FILE.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const [out, ...rest] = argv;
      if (!out || out.startsWith('-')) throw new UsageError('the archive FILE to write is required');
      const { values } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, data: { type: 'string' }, json: { type: 'boolean' } });
      const site = siteFiles(values.config);
      const dataDir = values.data ?? (process.env[DATA_DIR_ENV] || undefined) ?? site.dataDir;
      if (!dataDir) throw new UsageError('give --data DIR (or --config FILE with gateway.dataDir, or $CARBONEDGE_DATA_DIR)');
      const pkg = createRequire(import.meta.url)('../../../../package.json') as { version: string };
      const manifest = await backup(path.resolve(out), { dataDir: path.resolve(dataDir), site, version: pkg.version });
      const records = Object.values(manifest.tables).reduce((a, b) => a + b, 0);
      if (values.json) process.stdout.write(`${JSON.stringify({ file: out, ...manifest }, null, 2)}\n`);
      else process.stdout.write(`${out}: ${manifest.files.length} file(s), database ${records} row(s) in ${Object.keys(manifest.tables).length} table(s), from ${manifest.dataDir}\n`);
      return 0;
    }),
};
