import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../../runtime/config/atomic-write.js';
import { resolveDataDir } from '../../../runtime/config/data-dir.js';
import { lockDataDir } from '../../../runtime/config/data-dir-lock.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';
import { ConfigHistory, shortHash } from '../config-history.js';
import { RemoteConfig } from '../remote-config.js';
import { loadSiteConfigFile, loadSiteConfigText } from '../site.js';

const usage = 'carbonedge config history --config FILE [--data DIR] [--json]\n       carbonedge config rollback --config FILE [--data DIR] [--to ID]';

export const command: Command = {
  summary: 'The site configs this gateway ran (config history, kept by remote configuration) and going back to one of them.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const [action, ...rest] = argv;
      if (action !== 'history' && action !== 'rollback') throw new UsageError("expected 'history' or 'rollback'");
      const { values } = parseCommandArgs(rest, {
        config: { type: 'string', short: 'c' },
        data: { type: 'string' },
        json: { type: 'boolean' },
        to: { type: 'string' },
      });
      if (!values.config) throw new UsageError('--config FILE is required');
      const site = await loadSiteConfigFile(values.config).catch(() => undefined);
      const dataDir = resolveDataDir(site?.config ?? { gateway: {} } as never, values.data);
      const history = new ConfigHistory(dataDir, site ? RemoteConfig.keep(site) : undefined);
      if (action === 'history') {
        const active = history.active();
        const entries = history.entries();
        if (values.json) process.stdout.write(`${JSON.stringify({ active: active?.id, entries }, null, 2)}\n`);
        else if (!entries.length) process.stdout.write(`no config history in ${history.dir} (kept when uplink.remoteConfig is enabled)\n`);
        else {
          for (const e of entries) {
            const mark = e.id === active?.id ? '*' : ' ';
            process.stdout.write(`${mark} ${e.id}  ${e.savedAt}  ${shortHash(e.sha256)}  ${e.source.padEnd(8)}  ${e.outcome ?? ''}${e.transaction !== undefined ? `  transaction ${e.transaction}` : ''}${e.reason ? `  (${e.reason})` : ''}\n`);
          }
        }
        return 0;
      }
      const entries = history.entries();
      const active = history.active();
      const idx = active ? entries.findIndex((e) => e.id === active.id) : entries.length;
      const target = values.to ? history.get(values.to) : [...entries.slice(0, Math.max(0, idx))].reverse().find((e) => e.outcome !== 'rolled-back');
      if (!target) throw new UsageError(values.to ? `no config ${values.to} in the history (carbonedge config history lists them)` : 'no earlier config in the history');
      const text = history.text(target);
      loadSiteConfigText(text, values.config); // must still pass check (profiles may have changed)
      writeFileAtomic(values.config, text);
      history.update(target.id, { active: true });
      let running = false;
      try {
        lockDataDir(dataDir).release();
      } catch {
        running = true;
      }
      const was = readFileSync(values.config, 'utf8') === text ? target.id : '?';
      process.stdout.write(`${values.config} is config ${was} again (${shortHash(target.sha256)})${running ? '; a gateway is running on this data directory: restart it to apply (systemctl restart carbonedge)' : ''}\n`);
      return 0;
    }),
};
