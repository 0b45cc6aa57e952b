/**
 * Quality criteria of an inventory's inputs (GHG Protocol Scope 2 Quality Criteria; NEA GEC rules;
 * issue 13), as errors - never warnings - except the factor data year, which is a warning stated
 * in the output:
 * - a GEC with neither serials nor evidence; a non-integer GEC quantity (issued in whole MWh);
 * - a GEC used outside its validity (two years from its production month: vintage `YYYY-MM`, or
 *   any month of a `YYYY` vintage), another instrument whose vintage year lies outside the period;
 * - an instrument of another market (I-REC for consumption in China, a GEC outside China) unless
 *   `foreignMarketReason` states why it is claimed;
 * - production shares above 100 %;
 * - hourly intervals that overlap, are out of order, or do not reconcile with the period's
 *   consumption (sum of `consumptionMWh` = grid import + on-site renewable consumed, within
 *   `INTERVAL_TOLERANCE`);
 * - (warning) a grid or residual factor whose data year differs from the reporting year.
 * Pure: the issues are returned; computeInventory throws them together with its own.
 */
import type { ConfigIssue } from '../config/errors.js';
import { Q } from './exact.js';
import type { ResolvedFactor } from './factors.js';

/** Relative tolerance for intervals against the period's consumption (rounding of metered data). */
export const INTERVAL_TOLERANCE = Q.from('0.001');
/** GEC validity after the production month (NEA: two years). */
export const GEC_VALID_MONTHS = 24;

export interface QualityInstrument {
  type: string;
  MWh: Q;
  serials?: string[];
  vintage?: string | number;
  evidence?: string;
  foreignMarketReason?: string;
}

export interface QualityInput {
  period?: { from?: string; to?: string };
  /** Market of consumption (ISO country code, e.g. CN); undefined: not checked. */
  market?: string;
  instruments: QualityInstrument[];
  production?: { share: Q }[];
  intervals?: { start?: string; end?: string; consumptionMWh: Q }[];
  /** Grid import + on-site renewable consumed (MWh). */
  consumption: Q;
  factors: { field: string; factor: ResolvedFactor }[];
}

/** Market each instrument type belongs to (undefined: any market). */
const INSTRUMENT_MARKET: Record<string, string | undefined> = { GEC: 'CN', 'green-power-contract': undefined, PPA: undefined, 'I-REC': 'international (I-REC)' };

const EVIDENCE = 'CE_CONFIG_EVIDENCE' as const;

/** First day of the month `months` after YYYY-MM, as YYYY-MM-DD. */
function addMonths(year: number, month: number, months: number): string {
  const m = year * 12 + (month - 1) + months;
  return `${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, '0')}-01`;
}

/** [from, to) dates a GEC of this vintage may be used in, or undefined when the vintage is not a year/month. */
export function gecValidity(vintage: string | number): { from: string; to: string } | undefined {
  const m = /^(\d{4})(?:-(\d{2}))?$/.exec(String(vintage));
  if (!m) return undefined;
  const y = Number(m[1]);
  if (m[2]) return { from: `${m[1]}-${m[2]}-01`, to: addMonths(y, Number(m[2]), GEC_VALID_MONTHS) };
  // A year: produced in any month of it; valid at the latest 24 months after December.
  return { from: `${m[1]}-01-01`, to: addMonths(y, 12, GEC_VALID_MONTHS) };
}

export function qualityIssues(q: QualityInput, file: string): { issues: ConfigIssue[]; warnings: string[] } {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const from = q.period?.from?.slice(0, 10);
  const to = q.period?.to?.slice(0, 10);
  q.instruments.forEach((ins, i) => {
    const path = `/instruments/${i}`;
    if (!ins.serials?.length && !ins.evidence) {
      issues.push({ file, code: EVIDENCE, path, message: `missing evidence: ${ins.type} of ${ins.MWh.toString()} MWh has neither serials nor an evidence reference: it cannot be claimed` });
    }
    if (ins.type === 'GEC' && !Q.of(ins.MWh.floor()).eq(ins.MWh)) {
      issues.push({ file, code: EVIDENCE, path: `${path}/MWh`, message: `${ins.MWh.toString()} MWh of GEC: GECs are issued in whole certificates (1 GEC = 1 MWh)` });
    }
    if (from && to && ins.vintage !== undefined) {
      if (ins.type === 'GEC') {
        const v = gecValidity(ins.vintage);
        if (v && !(v.from <= to && from < v.to)) {
          issues.push({ file, code: EVIDENCE, path: `${path}/vintage`, message: `GEC of vintage ${ins.vintage} is valid ${v.from} .. before ${v.to} (two years from the production month): outside the period ${from} .. ${to}` });
        }
      } else {
        const y = String(ins.vintage).slice(0, 4);
        if (/^\d{4}$/.test(y) && (y < from.slice(0, 4) || y > to.slice(0, 4))) {
          issues.push({ file, code: EVIDENCE, path: `${path}/vintage`, message: `${ins.type} of vintage ${ins.vintage} lies outside the reporting period ${from} .. ${to}` });
        }
      }
    }
    const market = INSTRUMENT_MARKET[ins.type];
    if (q.market && market && market !== q.market && !ins.foreignMarketReason) {
      issues.push({
        file,
        code: EVIDENCE,
        path: `${path}/type`,
        message: `${ins.type} is an instrument of another market (${market}) than the consumption (${q.market})${ins.type === 'I-REC' && q.market === 'CN' ? ': in China the GEC is the sole proof of renewable attributes' : ''}; set foreignMarketReason to claim it anyway (stated in the output)`,
      });
    } else if (ins.foreignMarketReason) {
      warnings.push(`instrument ${i} (${ins.type}) claimed outside its market: ${ins.foreignMarketReason}`);
    }
  });
  if (q.production?.length) {
    const total = Q.sum(q.production.map((p) => p.share));
    if (total.cmp(Q.ONE) > 0) issues.push({ file, path: '/production', message: `production shares add up to ${total.mul(100).toString()} % (> 100 %): the site's emissions would be allocated more than once` });
  }
  if (q.intervals?.length) {
    let prevEnd: number | undefined;
    let prevStart: number | undefined;
    q.intervals.forEach((iv, i) => {
      if (iv.start === undefined) return;
      const s = Date.parse(iv.start);
      const e = iv.end !== undefined ? Date.parse(iv.end) : s + 3_600_000;
      if (Number.isNaN(s) || Number.isNaN(e) || e <= s) {
        issues.push({ file, path: `/intervals/${i}`, message: `interval ${iv.start} .. ${iv.end ?? '(start + 1 h)'} is not a time range` });
        return;
      }
      if (prevStart !== undefined && s <= prevStart) issues.push({ file, path: `/intervals/${i}/start`, message: `interval ${iv.start} is out of order (not after the previous start)` });
      else if (prevEnd !== undefined && s < prevEnd) issues.push({ file, path: `/intervals/${i}/start`, message: `interval ${iv.start} overlaps the previous interval (ends ${new Date(prevEnd).toISOString()})` });
      prevStart = s;
      prevEnd = e;
    });
    const sum = Q.sum(q.intervals.map((x) => x.consumptionMWh));
    const diff = sum.sub(q.consumption);
    const abs = diff.cmp(Q.ZERO) < 0 ? diff.neg() : diff;
    if (abs.cmp(q.consumption.mul(INTERVAL_TOLERANCE)) > 0) {
      issues.push({
        file,
        path: '/intervals',
        message: `the intervals' consumption (${sum.toString()} MWh) does not reconcile with the period's consumption (grid import + on-site renewable consumed = ${q.consumption.toString()} MWh; tolerance 0.1 %)`,
      });
    }
  }
  const year = from?.slice(0, 4);
  if (year && to?.slice(0, 4) === year) {
    for (const { field, factor } of q.factors) {
      if (factor.dataYear !== undefined && String(factor.dataYear) !== year) {
        warnings.push(`${field} ${factor.id} has data year ${factor.dataYear}, the reporting period is ${year}: the latest published factor is used, stated here (GHG Protocol: use the factor for the period when it is published)`);
      }
    }
  }
  return { issues, warnings };
}
