import path from 'node:path';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';
import { GATEWAY_EXIT_CODES } from '../exit-codes.js';
import { restore } from '../backup/restore.js';

const usage = 'carbonedge restore FILE [--data DIR] [--config-dir DIR] [--no-config] [--json]';

export const command: Command = {
  summary: 'Restore a backup archive: the database into the data directory (refused while a gateway runs on it), the config and profiles into their directory; replaced files are moved aside.',
  usage,
  run: (argv) =>
    runCommand(
      usage,
      async () => {
        const [file, ...rest] = argv;
        if (!file || file.startsWith('-')) throw new UsageError('the archive FILE to restore is required');
        const { values } = parseCommandArgs(rest, { data: { type: 'string' }, 'config-dir': { type: 'string' }, 'no-config': { type: 'boolean' }, json: { type: 'boolean' } });
        const r = await restore(path.resolve(file), { dataDir: values.data, configDir: values['config-dir'], noConfig: values['no-config'] });
        if (values.json) process.stdout.write(`${JSON.stringify({ file, dataDir: r.dataDir, restored: r.restored, movedAside: r.movedAside, tables: r.manifest.tables }, null, 2)}\n`);
        else {
          process.stdout.write(`${file}: restored ${r.restored.length} file(s) (database into ${r.dataDir}) from a backup of ${r.manifest.created}\n`);
          for (const f of r.movedAside) process.stdout.write(`  previous file kept as ${f}\n`);
        }
        return 0;
      },
      GATEWAY_EXIT_CODES,
    ),
};
