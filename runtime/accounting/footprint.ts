/**
 * Product carbon footprint, gate-to-gate (GB/T 24067-2024 style), for the electricity a factory
 * meters itself. Pure and exact (Q):
 *
 *   site electricity  E_site   = gross grid import + on-site renewable consumed        (MWh)
 *   shared electricity E_shared = E_site - sum of the lines' submetered energy          (MWh)
 *   per product p (on line l):
 *     metered_p = metered_l x basis_p / basis_l          (a line's own meter, split inside the line)
 *     shared_p  = E_shared x basis_p / basis_all         (the declared allocation rule, site-wide)
 *     energy_p  = metered_p + shared_p
 *   site footprint factor f = (import x f_grid + onsite x f_onsite) / E_site   (tCO2e/MWh)
 *     f_grid, f_onsite from the product-footprint (life-cycle) series, never the Scope 2 series;
 *     contractual instruments (GECs) are not applied to the product footprint (stated in output).
 *   footprint_p = energy_p x f;  per declared unit = footprint_p x 1000 / output_p   (kgCO2e/unit)
 *
 * The basis of the allocation rule: physical -> output in declared units (all products must share
 * one declared unit), mass -> massT, economic -> valueCNY. Every allocated MWh is accounted for:
 * the products' energies sum to E_site exactly (checked and reported as `reconciles`).
 */
import type { ConfigIssue } from '../config/errors.js';
import { Q } from './exact.js';
import type { ResolvedFactor } from './factors.js';

export type AllocationRule = 'physical' | 'mass' | 'economic';

export interface FootprintProductInput {
  name: string;
  declaredUnit: string;
  output: Q;
  massT?: Q;
  valueCNY?: Q;
}

export interface FootprintLineInput {
  line: string;
  /** Energy of the line's own submeters over the period (MWh). */
  meteredMWh: Q;
  /** Submeter device ids (for the report), when known. */
  meters?: string[];
  products: FootprintProductInput[];
}

export interface FootprintInput {
  allocation: AllocationRule;
  gridImportMWh: Q;
  onsiteRenewableConsumedMWh: Q;
  gridFactor: ResolvedFactor;
  onsiteFactor?: ResolvedFactor;
  lines: FootprintLineInput[];
}

export interface FootprintProductResult {
  line: string;
  product: string;
  declared_unit: string;
  output: number;
  allocation_basis: number;
  allocation_share: number;
  metered_MWh: number;
  shared_MWh: number;
  energy_MWh: number;
  footprint_t: number;
  kgCO2e_per_unit: number;
  exact: { energy_MWh: string; footprint_t: string; kgCO2e_per_unit: string };
}

export interface FootprintLineResult {
  line: string;
  meters?: string[];
  metered_MWh: number;
  shared_MWh: number;
  energy_MWh: number;
  footprint_t: number;
}

export interface FootprintResult {
  boundary: 'gate-to-gate';
  standard: string;
  allocation: { rule: AllocationRule; basis: string; statement: string };
  site_electricity_MWh: number;
  shared_MWh: number;
  factor: { value: number; exact: string; unit: 'tCO2e/MWh'; grid: FactorRef; onsite?: FactorRef; statement: string };
  lines: FootprintLineResult[];
  products: FootprintProductResult[];
  reconciles: boolean;
}

interface FactorRef {
  id: string;
  value: string;
  source: string;
  dataYear?: number;
  edition?: string;
}

const BASIS: Record<AllocationRule, string> = {
  physical: 'physical output in declared units',
  mass: 'mass of product (t)',
  economic: 'economic value (CNY)',
};

const num = (q: Q, digits = 6) => Number(q.toFixed(digits));
const ref = (f: ResolvedFactor): FactorRef => ({ id: f.id, value: f.value.toString(), source: f.source, dataYear: f.dataYear, edition: f.edition });

function basisOf(p: FootprintProductInput, rule: AllocationRule): Q | undefined {
  return rule === 'physical' ? p.output : rule === 'mass' ? p.massT : p.valueCNY;
}

/** Checks the footprint input; issues name the path under `/footprint`. */
export function checkFootprint(input: FootprintInput, file: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const site = input.gridImportMWh.add(input.onsiteRenewableConsumedMWh);
  const metered = Q.sum(input.lines.map((l) => l.meteredMWh));
  if (metered.cmp(site) > 0) {
    issues.push({ file, path: '/footprint/lines', message: `the lines' submetered energy (${metered.toFixed(3)} MWh) exceeds the site's electricity (${site.toFixed(3)} MWh = grid import + on-site renewable consumed): a submeter is assigned twice or the period differs` });
  }
  if (!input.onsiteRenewableConsumedMWh.isZero() && !input.onsiteFactor) {
    issues.push({ file, path: '/footprint/onsiteFactor', message: 'on-site renewable electricity was consumed: give its product-footprint factor (e.g. CN-2024-pf-pv)' });
  }
  const units = new Set<string>();
  input.lines.forEach((l, li) => {
    if (!l.products.length) issues.push({ file, path: `/footprint/lines/${li}/products`, message: 'a line needs at least one product' });
    l.products.forEach((p, pi) => {
      units.add(p.declaredUnit);
      const b = basisOf(p, input.allocation);
      const field = input.allocation === 'physical' ? 'output' : input.allocation === 'mass' ? 'massT' : 'valueCNY';
      if (!b) issues.push({ file, path: `/footprint/lines/${li}/products/${pi}/${field}`, message: `allocation '${input.allocation}' needs ${field} for every product` });
      else if (!(b.cmp(0) > 0)) issues.push({ file, path: `/footprint/lines/${li}/products/${pi}/${field}`, message: `${field} must be > 0` });
    });
  });
  if (input.allocation === 'physical' && units.size > 1) {
    issues.push({ file, path: '/footprint/allocation', message: `physical allocation adds outputs of different declared units (${[...units].join(', ')}); use mass or economic allocation` });
  }
  return issues;
}

/** The footprint of each product (call checkFootprint first; this throws on an unchecked input). */
export function computeFootprint(input: FootprintInput): FootprintResult {
  const site = input.gridImportMWh.add(input.onsiteRenewableConsumedMWh);
  if (site.isZero()) throw new RangeError('no site electricity: nothing to allocate');
  const meteredAll = Q.sum(input.lines.map((l) => l.meteredMWh));
  const shared = site.sub(meteredAll);
  const onsiteF = input.onsiteFactor?.value ?? Q.ZERO;
  const factor = input.gridImportMWh.mul(input.gridFactor.value).add(input.onsiteRenewableConsumedMWh.mul(onsiteF)).div(site);
  const basis = (p: FootprintProductInput): Q => {
    const b = basisOf(p, input.allocation);
    if (!b) throw new RangeError(`product ${p.name}: no allocation basis`);
    return b;
  };
  const basisAll = Q.sum(input.lines.flatMap((l) => l.products.map(basis)));

  const products: FootprintProductResult[] = [];
  const lines: FootprintLineResult[] = [];
  let energySum = Q.ZERO;
  for (const l of input.lines) {
    const basisLine = Q.sum(l.products.map(basis));
    let lineShared = Q.ZERO;
    let lineEnergy = Q.ZERO;
    for (const p of l.products) {
      const b = basis(p);
      const metered = l.meteredMWh.mul(b).div(basisLine);
      const sharedP = shared.mul(b).div(basisAll);
      const energy = metered.add(sharedP);
      const t = energy.mul(factor);
      const perUnit = t.mul(1000).div(p.output);
      lineShared = lineShared.add(sharedP);
      lineEnergy = lineEnergy.add(energy);
      products.push({
        line: l.line,
        product: p.name,
        declared_unit: p.declaredUnit,
        output: num(p.output),
        allocation_basis: num(b),
        allocation_share: num(b.div(basisAll), 9),
        metered_MWh: num(metered),
        shared_MWh: num(sharedP),
        energy_MWh: num(energy),
        footprint_t: num(t),
        kgCO2e_per_unit: num(perUnit),
        exact: { energy_MWh: energy.toString(), footprint_t: t.toString(), kgCO2e_per_unit: perUnit.toString() },
      });
    }
    energySum = energySum.add(lineEnergy);
    lines.push({ line: l.line, ...(l.meters ? { meters: l.meters } : {}), metered_MWh: num(l.meteredMWh), shared_MWh: num(lineShared), energy_MWh: num(lineEnergy), footprint_t: num(lineEnergy.mul(factor)) });
  }
  return {
    boundary: 'gate-to-gate',
    standard: 'GB/T 24067-2024 (product carbon footprint), electricity of the factory gate-to-gate',
    allocation: {
      rule: input.allocation,
      basis: BASIS[input.allocation],
      statement: `shared site electricity (${shared.toFixed(3)} MWh, site total minus the lines' submeters) is allocated to products by ${BASIS[input.allocation]}; a line's submetered energy is split among its own products by the same basis`,
    },
    site_electricity_MWh: num(site),
    shared_MWh: num(shared),
    factor: {
      value: num(factor, 9),
      exact: factor.toString(),
      unit: 'tCO2e/MWh',
      grid: ref(input.gridFactor),
      ...(input.onsiteFactor ? { onsite: ref(input.onsiteFactor) } : {}),
      statement:
        'grid electricity at the life-cycle (product-footprint) grid factor, on-site renewable electricity at its life-cycle factor, weighted by energy; green certificates are not applied to the product footprint',
    },
    lines,
    products,
    reconciles: energySum.eq(site),
  };
}
