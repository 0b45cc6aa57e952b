import { loadFactorLibrary } from '../../../runtime/accounting/factors.js';
import { computeInventory, formatInventory } from '../../../runtime/accounting/inventory.js';
import { loadActivityFile } from '../../../runtime/accounting/activity.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge inventory --activity FILE [--json]\n       carbonedge inventory --db FILE --from DATE --to DATE [--json]   (YYYY-MM-DD: local days of the site, both inclusive; ISO times: instants, [from, to))';

export const command: Command = {
  summary: 'Compute a GHG inventory (Scope 1, Scope 2 location- and market-based, green-power shares) from an activity file or the gateway store.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        activity: { type: 'string', short: 'a' },
        db: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (!!values.activity === !!values.db) throw new UsageError('give exactly one of --activity FILE or --db FILE');
      const lib = loadFactorLibrary();
      let result;
      if (values.activity) {
        result = computeInventory(loadActivityFile(values.activity, lib), values.activity);
      } else {
        if (!values.from || !values.to) throw new UsageError('--db needs --from DATE and --to DATE');
        const { inventoryFromDb } = await import('../../../runtime/accounting/store-inventory.js');
        result = inventoryFromDb(values.db!, values.from, values.to, lib);
      }
      process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatInventory(result));
      return 0;
    }),
};
