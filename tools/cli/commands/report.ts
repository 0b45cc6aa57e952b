import { writeFileSync } from 'node:fs';
import { loadFactorLibrary } from '../../../runtime/accounting/factors.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';
import type { Lang } from '../../report/i18n.js';
import { buildReport } from '../../report/model.js';
import { renderHtml } from '../../report/render-html.js';
import { renderMarkdown } from '../../report/render-md.js';
import { fromActivity, fromDb } from '../../report/sources.js';

const usage =
  'carbonedge report (--activity FILE | --db FILE [--period 2026|2026-06|2026-06-13]) --format html|pdf|md|json --lang zh|en [--out FILE] [--chromium PATH]';

const FORMATS = ['html', 'pdf', 'md', 'json'] as const;
type Format = (typeof FORMATS)[number];
const isFormat = (x: string): x is Format => (FORMATS as readonly string[]).includes(x);
const isLang = (x: string): x is Lang => x === 'zh' || x === 'en';

export const command: Command = {
  summary: 'Disclosure report (GB/T 32150 layout): emissions by scope and source, energy, green share with evidence, offsets and net balance, product footprint, completeness, factors, monthly chart.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        activity: { type: 'string', short: 'a' },
        db: { type: 'string' },
        period: { type: 'string' },
        format: { type: 'string', default: 'html' },
        lang: { type: 'string', default: 'zh' },
        out: { type: 'string', short: 'o' },
        chromium: { type: 'string' },
      });
      if (!!values.activity === !!values.db) throw new UsageError('give exactly one of --activity FILE or --db FILE');
      if (values.period && !values.db) throw new UsageError('--period goes with --db (an activity file states its own period)');
      if (!isFormat(values.format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${values.format}'`);
      if (!isLang(values.lang)) throw new UsageError(`--lang must be zh or en, got '${values.lang}'`);
      if (values.format === 'pdf' && !values.out) throw new UsageError('--format pdf needs --out FILE');
      const lang = values.lang;
      const lib = loadFactorLibrary();
      const src = values.activity ? fromActivity(values.activity, lib) : fromDb(values.db!, values.period, lib);
      const model = buildReport({ ...src, now: new Date() });
      let out: string | Buffer;
      if (values.format === 'json') out = `${JSON.stringify(model, null, 2)}\n`;
      else if (values.format === 'md') out = renderMarkdown(model, lang);
      else if (values.format === 'html') out = renderHtml(model, lang);
      else {
        const { chromiumPath, htmlToPdf, ChromiumMissingError } = await import('../../report/render-pdf.js');
        try {
          out = await htmlToPdf(renderHtml(model, lang), chromiumPath(values.chromium));
        } catch (err) {
          if (err instanceof ChromiumMissingError) {
            process.stderr.write(`carbonedge: ${err.message}\n`);
            return 1;
          }
          throw err;
        }
      }
      if (values.out) {
        writeFileSync(values.out, out);
        process.stderr.write(`carbonedge: report written to ${values.out}\n`);
      } else process.stdout.write(out);
      return 0;
    }),
};
