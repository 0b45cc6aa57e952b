/** The report as Markdown (same blocks as the HTML; the chart is given by its table). */
import { reportBlocks, type Block } from './document.js';
import type { Lang } from './i18n.js';
import type { ReportModel } from './model.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function block(b: Block): string | undefined {
  switch (b.kind) {
    case 'title':
      return `# ${b.text}`;
    case 'h2':
      return `## ${b.text}`;
    case 'h3':
      return `### ${b.text}`;
    case 'kv':
      return b.rows.map(([k, v]) => `- **${cell(k)}**: ${cell(v)}`).join('\n');
    case 'table':
      return [`| ${b.head.map(cell).join(' | ')} |`, `| ${b.head.map((_, i) => (b.numeric.includes(i) ? '---:' : '---')).join(' | ')} |`, ...b.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
    case 'p':
      return b.cls === 'zero-yes' || b.cls === 'zero-no' ? `**${b.text}**` : b.text;
    case 'list':
      return b.items.map((x) => `- ${x}`).join('\n');
    case 'chart':
      return undefined;
  }
}

export function renderMarkdown(m: ReportModel, lang: Lang): string {
  return `${reportBlocks(m, lang)
    .map(block)
    .filter((x): x is string => x !== undefined)
    .join('\n\n')}\n`;
}
