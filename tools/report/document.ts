/**
 * The report as a sequence of blocks (headings, key-value lists, tables, paragraphs, the monthly
 * chart), in the reader's language: one layout, rendered to HTML (and from it PDF) or Markdown.
 */
import { categoryName, fmt, fuelName, pct, standards, t, type Lang, type TextKey } from './i18n.js';
import type { ReportModel } from './model.js';

export type Block =
  | { kind: 'title'; text: string }
  | { kind: 'h2' | 'h3'; text: string }
  | { kind: 'kv'; rows: [string, string][] }
  | { kind: 'table'; head: string[]; rows: string[][]; numeric: number[]; cls?: string }
  | { kind: 'p'; text: string; cls?: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'chart' };

export function reportBlocks(m: ReportModel, lang: Lang): Block[] {
  const L = (k: TextKey) => t(lang, k);
  const kv = (rows: [TextKey, string | undefined][]): Block => ({ kind: 'kv', rows: rows.filter((r): r is [TextKey, string] => r[1] !== undefined && r[1] !== '').map(([k, v]) => [L(k), v]) });
  const table = (head: string[], rows: string[][], numeric: number[] = [], cls?: string): Block => ({ kind: 'table', head, rows, numeric, ...(cls ? { cls } : {}) });
  const o = m.organisation;
  const b: Block[] = [];
  b.push({ kind: 'title', text: L('title') });
  b.push(kv([['orgName', o.name], ['period', `${m.period.from ?? ''} – ${m.period.to ?? ''}`], ['source', `${L(m.source.kind === 'db' ? 'sourceDb' : 'sourceActivity')}: ${m.source.file}`], ['generated', m.generated_at]]));

  b.push({ kind: 'h2', text: L('s1') });
  b.push(kv([['orgName', o.name], ['creditCode', o.creditCode], ['address', o.address], ['industry', o.industry], ['boundary', o.boundary], ['contact', o.contact]]));

  b.push({ kind: 'h2', text: L('s2') }, { kind: 'list', items: standards(lang) });
  const remainder = lang === 'zh' ? L(m.method.market_remainder === 'residual' ? 'remainderResidual' : 'remainderGrid') : m.method.market_remainder_statement;
  b.push(kv([['locationFactor', m.method.location_factor], ['marketRemainder', remainder], ['exports', L(m.method.exports === 'net' ? 'exportsNet' : 'exportsGross')]]));

  b.push({ kind: 'h2', text: L('s3') });
  b.push(
    table(
      [L('category'), L('emissions')],
      [
        [L('scope1'), fmt(m.totals.scope1_t)],
        [L('scope2loc'), fmt(m.totals.scope2_location_t)],
        [L('scope2mkt'), fmt(m.totals.scope2_market_t)],
        [L('totalLoc'), fmt(m.totals.total_location_t)],
        [L('totalMkt'), fmt(m.totals.total_market_t)],
      ],
      [1],
      'totals',
    ),
  );

  b.push({ kind: 'h2', text: L('s4') });
  // a fuel line names its fuel; the others keep the user's own name (process, heat) or their category
  const source = (x: { category: string; description: string }) =>
    x.category === 'fuel' ? `${fuelName(lang, x.description.replace(/ combustion$/, ''))}` : x.category === 'process' || x.category === 'heat' ? x.description : categoryName(lang, x.category);
  b.push(table([L('scope1'), L('category'), L('emissions'), L('factor')], m.scope1.map((x) => [source(x), categoryName(lang, x.category), fmt(x.emissions_t), x.factor_id ?? '']), [2]));
  b.push(table([L('description'), L('method'), L('emissions'), L('factor')], m.scope2.map((x) => [source(x), L(x.method), fmt(x.emissions_t), x.factor_id ?? '']), [2]));

  b.push({ kind: 'h2', text: L('s5') });
  const el = m.energy.electricity;
  const energy: string[][] = [];
  if (el.grid_import_MWh !== undefined) energy.push([L('gridImport'), fmt(el.grid_import_MWh), 'MWh']);
  if (el.grid_export_MWh !== undefined) energy.push([L('gridExport'), fmt(el.grid_export_MWh), 'MWh']);
  if (el.onsite_renewable_MWh !== undefined) energy.push([L('onsite'), fmt(el.onsite_renewable_MWh), 'MWh']);
  energy.push([L('consumption'), fmt(el.consumption_MWh), 'MWh']);
  for (const f of m.energy.fuels) energy.push([fuelName(lang, f.fuel), f.quantity, f.unit]);
  for (const h of m.energy.heat) energy.push([`${L('heat')}: ${h.name}`, h.GJ ?? '', 'GJ']);
  b.push(table([L('carrier'), L('quantity'), L('unit')], energy, [1]));

  b.push({ kind: 'h2', text: L('s6') });
  b.push(kv([['greenAnnual', pct(m.green_share.annual_volumetric)], ['greenHourly', m.green_share.hourly_matched === undefined ? L('notGiven') : pct(m.green_share.hourly_matched)], ['selfSufficiency', pct(m.green_share.self_sufficiency)]]));
  b.push({ kind: 'h3', text: L('evidence') });
  b.push(m.evidence.length ? table([L('type'), 'MWh', L('vintage'), L('serials'), L('proof')], m.evidence.map((e) => [e.type, e.MWh, e.vintage ?? '', e.serials.join(', '), e.evidence ?? '']), [1]) : { kind: 'p', text: L('none') });

  b.push({ kind: 'h2', text: L('s7') });
  const bal = m.balance;
  const off = bal.offsets_t ?? 0;
  b.push(
    table(
      [L('category'), 'tCO₂'],
      [
        [L('totalLoc'), fmt(m.totals.total_location_t)],
        [L('totalMkt'), fmt(m.totals.total_market_t)],
        [L('offsets'), fmt(off)],
        [L('netLoc'), fmt(bal.net_location_t ?? m.totals.total_location_t - off)],
        [L('netMkt'), fmt(bal.net_market_t ?? m.totals.total_market_t - off)],
      ],
      [1],
      'totals',
    ),
  );
  if (bal.zero_carbon !== undefined) {
    b.push({ kind: 'p', text: `${L('zeroCarbon')}: ${L(bal.zero_carbon ? 'zeroYes' : 'zeroNo')}`, cls: bal.zero_carbon ? 'zero-yes' : 'zero-no' });
    if (bal.explanation.length) b.push({ kind: 'list', items: bal.explanation });
  }
  b.push(
    bal.offsets.length
      ? table([L('type'), 'tCO₂', L('vintage'), L('project'), L('serials'), L('retiredOn'), L('proof')], bal.offsets.map((x) => [x.type, fmt(x.tCO2), String(x.vintage ?? ''), x.project ?? '', (x.serials ?? []).join(', '), x.retiredOn ?? '', x.evidence ?? '']), [1])
      : { kind: 'p', text: L('noOffsets') },
  );

  b.push({ kind: 'h2', text: L('s8') });
  if (m.intensity.length) b.push(table([L('line'), L('output'), L('unit'), L('perUnitLoc'), L('perUnitMkt')], m.intensity.map((x) => [x.line, fmt(x.quantity), x.unit, fmt(x.kgCO2_per_unit_location, 4), fmt(x.kgCO2_per_unit_market, 4)]), [1, 3, 4]));
  const fp = m.footprint;
  if (fp) {
    b.push({ kind: 'h3', text: L('footprint') });
    const rule: TextKey = fp.allocation.rule === 'physical' ? 'allocationPhysical' : fp.allocation.rule === 'mass' ? 'allocationMass' : 'allocationEconomic';
    const allocation =
      lang === 'zh'
        ? `公共用电 ${fmt(fp.shared_MWh)} MWh（全厂用电减去各产线分项计量）按${L(rule)}分配至各产品；产线分项计量电量按同一依据在本产线产品间分配`
        : fp.allocation.statement;
    const factorNote =
      lang === 'zh'
        ? '电网电力采用生命周期（产品碳足迹）电网因子，厂内可再生能源电力采用其生命周期因子，按电量加权；绿证不用于产品碳足迹'
        : fp.factor.statement;
    b.push(kv([['allocation', `${L(rule)} — ${allocation}`], ['pfFactor', `${fmt(fp.factor.value, 6)} tCO₂e/MWh (${factorNote})`]]));
    b.push(
      table(
        [L('line'), L('product'), L('output'), L('unit'), L('share'), L('metered'), L('shared'), L('energyMWh'), L('footprintT'), L('perUnit')],
        fp.products.map((p) => [p.line, p.product, fmt(p.output, 0), p.declared_unit, pct(p.allocation_share), fmt(p.metered_MWh), fmt(p.shared_MWh), fmt(p.energy_MWh), fmt(p.footprint_t), fmt(p.kgCO2e_per_unit, 4)]),
        [2, 4, 5, 6, 7, 8, 9],
      ),
    );
  }
  if (!m.intensity.length && !fp) b.push({ kind: 'p', text: L('noProducts') });

  b.push({ kind: 'h2', text: L('s9') });
  const c = m.completeness;
  b.push(kv([['complete', L(c.complete ? 'yes' : 'no')], ['quarters', c.quarters === undefined ? undefined : `${c.complete_quarters ?? 0} / ${c.quarters}`], ['gaps', String(c.gaps.length)], ['flags', String(c.flags)], ['meterChanges', String(c.meter_changes)]]));
  if (c.gaps.length) b.push(table([L('gaps'), L('description')], c.gaps.slice(0, 200).map((g) => [g.start, g.devices.join(', ')])));
  if (c.notes.length) b.push({ kind: 'h3', text: L('notes') }, { kind: 'list', items: c.notes });

  b.push({ kind: 'h2', text: L('s10') });
  b.push(table(['ID', L('value'), L('unit'), L('dataYear'), L('edition'), L('sourceCol'), L('usedFor')], m.factors.map((f) => [f.id, f.value, f.unit, f.data_year === undefined ? '' : String(f.data_year), f.edition ?? '', f.source, f.used_for.join('; ')]), [1]));

  b.push({ kind: 'h2', text: L('s11') });
  if (m.monthly.length) {
    b.push({ kind: 'chart' });
    const co2 = m.monthly.some((x) => x.co2_location_t !== undefined);
    b.push(
      table(
        [L('month'), L('gridMWh'), L('onsiteMWh'), L('consumption'), L('greenShare'), ...(co2 ? [L('co2Loc'), L('co2Mkt')] : [])],
        m.monthly.map((x) => [x.month, fmt(x.grid_import_MWh), fmt(x.onsite_renewable_MWh), fmt(x.consumption_MWh), pct(monthShare(x)), ...(co2 ? [fmt(x.co2_location_t), fmt(x.co2_market_t)] : [])]),
        [1, 2, 3, 4, 5, 6],
      ),
    );
  } else b.push({ kind: 'p', text: L('noMonthly') });

  b.push({ kind: 'p', text: L('rounding'), cls: 'small' });
  b.push({ kind: 'p', text: `${L('signature')}: ____________________   ____________________`, cls: 'sign' });
  return b;
}

/** A month's green share: the store's figure, else on-site renewable over consumption. */
export function monthShare(x: ReportModel['monthly'][number]): number {
  return x.green_share ?? (x.consumption_MWh > 0 ? x.onsite_renewable_MWh / x.consumption_MWh : 0);
}
