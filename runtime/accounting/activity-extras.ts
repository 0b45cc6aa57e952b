/**
 * The parts of an activity file that are not inventory inputs: the reporting entity
 * (`organisation`), electricity by month (`monthly`, for the report's chart) and the product
 * footprint (`footprint`, GB/T 24067). Read after `loadActivityFile` validated the file against
 * activity.schema.json; issues name file, line and path like every activity-file error.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { parseSource } from '../config/yaml-source.js';
import { Q } from './exact.js';
import { resolveFactor, type FactorLibrary } from './factors.js';
import { checkFootprint, computeFootprint, type AllocationRule, type FootprintInput, type FootprintResult } from './footprint.js';
import type { InventoryInput } from './inventory.js';

export interface Organisation {
  name?: string;
  creditCode?: string;
  address?: string;
  industry?: string;
  boundary?: string;
  contact?: string;
}

export interface MonthEnergy {
  month: string;
  gridImportMWh: number;
  gridExportMWh: number;
  onsiteRenewableConsumedMWh: number;
}

export interface ActivityExtras {
  organisation?: Organisation;
  monthly?: MonthEnergy[];
  footprint?: FootprintResult;
}

interface RawExtras {
  organisation?: Organisation;
  monthly?: { month: string; gridImportMWh: number; gridExportMWh?: number; onsiteRenewableConsumedMWh?: number }[];
  footprint?: {
    allocation: AllocationRule;
    gridFactor: string | number;
    onsiteFactor?: string | number;
    lines: { line: string; meteredMWh: number; meters?: string[]; products: { name: string; declaredUnit: string; output: number; massT?: number; valueCNY?: number }[] }[];
  };
}

const PF_KINDS = ['product-footprint-electricity'] as const;

/** Organisation, monthly electricity and product footprint of a validated activity file. */
export function loadActivityExtras(file: string, lib: FactorLibrary, input: InventoryInput): ActivityExtras {
  const src = parseSource(readFileSync(file, 'utf8'), file);
  if (src.syntaxIssues.length) throw new ConfigError(src.syntaxIssues, 'the activity file cannot be read');
  const raw = src.value as RawExtras;
  const issues: ConfigIssue[] = [];
  const out: ActivityExtras = {};
  if (raw.organisation) out.organisation = raw.organisation;

  if (raw.monthly) {
    const months = raw.monthly.map((m) => ({
      month: m.month,
      gridImportMWh: m.gridImportMWh,
      gridExportMWh: m.gridExportMWh ?? 0,
      onsiteRenewableConsumedMWh: m.onsiteRenewableConsumedMWh ?? 0,
    }));
    const seen = new Set<string>();
    months.forEach((m, i) => {
      if (seen.has(m.month)) issues.push({ file, path: `/monthly/${i}/month`, message: `month ${m.month} is given twice` });
      seen.add(m.month);
    });
    const reconcile = (key: 'gridImportMWh' | 'gridExportMWh' | 'onsiteRenewableConsumedMWh', total: Q) => {
      const sum = Q.sum(months.map((m) => Q.from(m[key])));
      if (!sum.eq(total)) issues.push({ file, path: '/monthly', message: `the months' ${key} add up to ${sum.toString()} MWh, the electricity total is ${total.toString()} MWh: months and totals must agree exactly` });
    };
    reconcile('gridImportMWh', input.electricity.gridImportMWh);
    reconcile('gridExportMWh', input.electricity.gridExportMWh);
    reconcile('onsiteRenewableConsumedMWh', input.electricity.onsiteRenewableConsumedMWh);
    out.monthly = [...months].sort((a, b) => a.month.localeCompare(b.month));
  }

  if (raw.footprint) {
    const f = raw.footprint;
    const gridFactor = resolveFactor(f.gridFactor, lib, PF_KINDS, 'tCO2e/MWh', 'footprint/gridFactor', file, issues);
    const onsiteFactor = f.onsiteFactor === undefined ? undefined : resolveFactor(f.onsiteFactor, lib, PF_KINDS, 'tCO2e/MWh', 'footprint/onsiteFactor', file, issues);
    if (gridFactor) {
      const fi: FootprintInput = {
        allocation: f.allocation,
        gridImportMWh: input.electricity.gridImportMWh,
        onsiteRenewableConsumedMWh: input.electricity.onsiteRenewableConsumedMWh,
        gridFactor,
        ...(onsiteFactor ? { onsiteFactor } : {}),
        lines: f.lines.map((l) => ({
          line: l.line,
          meteredMWh: Q.from(l.meteredMWh),
          ...(l.meters ? { meters: l.meters } : {}),
          products: l.products.map((p) => ({
            name: p.name,
            declaredUnit: p.declaredUnit,
            output: Q.from(p.output),
            ...(p.massT !== undefined ? { massT: Q.from(p.massT) } : {}),
            ...(p.valueCNY !== undefined ? { valueCNY: Q.from(p.valueCNY) } : {}),
          })),
        })),
      };
      const fIssues = checkFootprint(fi, file);
      issues.push(...fIssues);
      if (!fIssues.length) out.footprint = computeFootprint(fi);
    }
  }
  if (issues.length) throw new ConfigError(issues.map((i) => ({ ...src.locate(i.path), ...i })), 'the activity file has errors');
  return out;
}
