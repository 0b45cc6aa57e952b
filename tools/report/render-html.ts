/**
 * The report as one self-contained HTML page (inline CSS and SVG chart, no script, no network):
 * readable on screen, printed to PDF by Chromium (render-pdf.ts).
 */
import { monthShare, reportBlocks, type Block } from './document.js';
import { fmt, t, type Lang } from './i18n.js';
import type { MonthRow, ReportModel } from './model.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);

/** Monthly chart: stacked bars (grid import, on-site renewable) and the green share as a line. */
export function monthlyChartSvg(months: MonthRow[], lang: Lang): string {
  const [W, H, L, R, T, B] = [720, 280, 56, 48, 20, 40];
  const maxE = Math.max(1e-9, ...months.map((m) => m.grid_import_MWh + m.onsite_renewable_MWh));
  const pw = W - L - R;
  const ph = H - T - B;
  const bw = (pw / months.length) * 0.6;
  const x = (i: number) => L + (pw / months.length) * (i + 0.5);
  const y = (v: number) => T + ph - (v / maxE) * ph;
  const rect = (cls: string, i: number, top: number, bottom: number) =>
    `<rect class="${cls}" x="${(x(i) - bw / 2).toFixed(1)}" y="${y(top).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(bottom) - y(top)).toFixed(1)}"/>`;
  const bars = months
    .map((m, i) => `${rect('grid', i, m.grid_import_MWh, 0)}${rect('pv', i, m.grid_import_MWh + m.onsite_renewable_MWh, m.grid_import_MWh)}<text class="lbl" x="${x(i).toFixed(1)}" y="${H - B + 16}">${esc(m.month.slice(2))}</text>`)
    .join('');
  const line = months.map((m, i) => `${x(i).toFixed(1)},${(T + ph - monthShare(m) * ph).toFixed(1)}`).join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const yy = (T + ph - f * ph).toFixed(1);
      return `<line class="tick" x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}"/><text class="ax" x="${L - 6}" y="${yy}" dy="4" text-anchor="end">${fmt(maxE * f, 0)}</text><text class="ax" x="${W - R + 6}" y="${yy}" dy="4">${f * 100}%</text>`;
    })
    .join('');
  const legend = `<g class="legend"><rect class="grid" x="${L + 40}" y="4" width="10" height="10"/><text x="${L + 54}" y="13">${esc(t(lang, 'gridMWh'))}</text><rect class="pv" x="${L + 200}" y="4" width="10" height="10"/><text x="${L + 214}" y="13">${esc(t(lang, 'onsiteMWh'))}</text><line class="share" x1="${L + 390}" x2="${L + 404}" y1="9" y2="9"/><text x="${L + 408}" y="13">${esc(t(lang, 'greenShare'))}</text></g>`;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t(lang, 's11'))}" xmlns="http://www.w3.org/2000/svg">${ticks}${bars}<polyline class="share" points="${line}"/><text class="ax" x="${L}" y="12">MWh</text>${legend}</svg>`;
}

const CSS = `
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;color:#1d2428;max-width:960px;margin:24px auto;padding:0 16px;line-height:1.5}
h1{font-size:22px;border-bottom:3px solid #2e7d32;padding-bottom:6px}h2{font-size:17px;margin-top:28px;color:#1b5e20;break-after:avoid}h3{font-size:15px}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}th,td{border:1px solid #c8d0d4;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef3ef}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;font-size:14px}dt{color:#555}dd{margin:0}
table.totals td.n{font-weight:bold}.zero-yes{color:#1b5e20;font-weight:bold}.zero-no{color:#b71c1c;font-weight:bold}.small{font-size:12px;color:#555}
.chart{width:100%;height:auto}.chart .grid{fill:#90a4ae}.chart .pv{fill:#66bb6a}.chart .share{fill:none;stroke:#e65100;stroke-width:2}.chart .tick{stroke:#e0e0e0}.chart .ax,.chart .lbl,.chart .legend text{font-size:11px;fill:#555}.chart .lbl{text-anchor:middle}
.sign{margin-top:40px;border-top:1px solid #999;padding-top:8px;font-size:13px}
@media print{body{margin:0;max-width:none}}
`;

function block(b: Block, m: ReportModel, lang: Lang): string {
  switch (b.kind) {
    case 'title':
      return `<h1>${esc(b.text)}</h1>`;
    case 'h2':
    case 'h3':
      return `<${b.kind}>${esc(b.text)}</${b.kind}>`;
    case 'kv':
      return `<dl>${b.rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
    case 'table': {
      const cell = (tag: 'th' | 'td', c: string, i: number) => `<${tag}${b.numeric.includes(i) ? ' class="n"' : ''}>${esc(c)}</${tag}>`;
      return `<table${b.cls ? ` class="${b.cls}"` : ''}><thead><tr>${b.head.map((h, i) => cell('th', h, i)).join('')}</tr></thead><tbody>${b.rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('')}</tbody></table>`;
    }
    case 'p':
      return `<p${b.cls ? ` class="${b.cls}"` : ''}>${esc(b.text)}</p>`;
    case 'list':
      return `<ul>${b.items.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`;
    case 'chart':
      return monthlyChartSvg(m.monthly, lang);
  }
}

export function renderHtml(m: ReportModel, lang: Lang): string {
  const body = reportBlocks(m, lang).map((b) => block(b, m, lang)).join('\n');
  return `<!doctype html><html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(t(lang, 'title'))} – ${esc(m.organisation.name)}</title><style>${CSS}</style></head><body>${body}</body></html>\n`;
}
