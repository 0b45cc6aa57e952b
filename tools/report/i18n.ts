/** The report's words in Chinese (written for Chinese readers, GB/T 32150 terms) and English. */
export type Lang = 'zh' | 'en';

const TEXT = {
  title: { zh: '温室气体排放与零碳工厂信息披露报告', en: 'Greenhouse gas emissions and zero-carbon factory disclosure report' },
  generated: { zh: '生成时间', en: 'Generated' },
  period: { zh: '报告期', en: 'Reporting period' },
  source: { zh: '数据来源', en: 'Data source' },
  sourceActivity: { zh: '活动数据文件', en: 'activity data file' },
  sourceDb: { zh: '网关数据库（计量数据，15分钟记录）', en: 'gateway store (metered data, quarter-hour records)' },
  s1: { zh: '一、报告主体与核算边界', en: '1. Reporting entity and boundary' },
  orgName: { zh: '报告主体', en: 'Organisation' },
  creditCode: { zh: '统一社会信用代码', en: 'Unified social credit code' },
  address: { zh: '地址', en: 'Address' },
  industry: { zh: '所属行业', en: 'Industry' },
  boundary: { zh: '核算边界', en: 'Boundary' },
  contact: { zh: '联系人', en: 'Contact' },
  s2: { zh: '二、核算方法与依据标准', en: '2. Methods and standards' },
  locationFactor: { zh: '基于位置法电力排放因子', en: 'Location-based electricity factor' },
  marketRemainder: { zh: '基于市场法未覆盖电量的因子', en: 'Market-based remainder factor' },
  exports: { zh: '上网电量处理', en: 'Exported electricity' },
  exportsGross: { zh: '不抵扣（按购入电量总量核算）', en: 'gross (not netted)' },
  exportsNet: { zh: '仅在排放量中扣减上网电量', en: 'netted in the emissions line only' },
  s3: { zh: '三、排放总量', en: '3. Total emissions' },
  scope1: { zh: '范围一：直接排放', en: 'Scope 1: direct emissions' },
  scope2loc: { zh: '范围二：外购电力和热力间接排放（基于位置）', en: 'Scope 2: purchased electricity and heat (location-based)' },
  scope2mkt: { zh: '范围二：外购电力和热力间接排放（基于市场）', en: 'Scope 2: purchased electricity and heat (market-based)' },
  totalLoc: { zh: '排放总量（基于位置）', en: 'Total (location-based)' },
  totalMkt: { zh: '排放总量（基于市场）', en: 'Total (market-based)' },
  s4: { zh: '四、按排放源分列', en: '4. Emissions by source' },
  category: { zh: '类别', en: 'Category' },
  description: { zh: '排放源', en: 'Source' },
  method: { zh: '方法', en: 'Method' },
  location: { zh: '基于位置', en: 'location' },
  market: { zh: '基于市场', en: 'market' },
  emissions: { zh: '排放量 (tCO₂)', en: 'Emissions (tCO₂)' },
  factor: { zh: '排放因子', en: 'Factor' },
  s5: { zh: '五、能源消费（按品种）', en: '5. Energy by carrier' },
  carrier: { zh: '能源品种', en: 'Carrier' },
  quantity: { zh: '数量', en: 'Quantity' },
  unit: { zh: '单位', en: 'Unit' },
  gridImport: { zh: '外购电力（电网购入）', en: 'Grid electricity imported' },
  gridExport: { zh: '上网电量', en: 'Electricity exported' },
  onsite: { zh: '厂内可再生能源发电自用', en: 'On-site renewable electricity consumed' },
  consumption: { zh: '电力消费总量', en: 'Electricity consumption' },
  heat: { zh: '外购热力', en: 'Purchased heat' },
  s6: { zh: '六、绿色电力占比', en: '6. Green-power share' },
  greenAnnual: { zh: '年度电量口径（RE100）', en: 'Annual volumetric (RE100)' },
  greenHourly: { zh: '逐小时匹配口径（24/7）', en: 'Hourly matched (24/7)' },
  selfSufficiency: { zh: '厂内自发自用比例', en: 'On-site self-sufficiency' },
  notGiven: { zh: '未提供逐时数据', en: 'no hourly data given' },
  evidence: { zh: '绿证及绿电交易凭证', en: 'Evidence: green certificates and contracts' },
  type: { zh: '类型', en: 'Type' },
  vintage: { zh: '年份', en: 'Vintage' },
  serials: { zh: '编号', en: 'Serials' },
  proof: { zh: '凭证', en: 'Proof' },
  none: { zh: '无', en: 'none' },
  s7: { zh: '七、碳抵消与零碳平衡', en: '7. Offsets and the zero-carbon balance' },
  offsets: { zh: '碳抵消量（已注销）', en: 'Offsets retired' },
  netLoc: { zh: '净排放（基于位置）', en: 'Net emissions (location-based)' },
  netMkt: { zh: '净排放（基于市场）', en: 'Net emissions (market-based)' },
  zeroCarbon: { zh: '零碳结论', en: 'Zero-carbon' },
  zeroYes: { zh: '达到零碳（基于市场的净排放≤0，且报告期内无未关闭的错误或数据缺口）', en: 'yes (market-based net ≤ 0 and no open error or gap in the period)' },
  zeroNo: { zh: '未达到零碳', en: 'no' },
  noOffsets: { zh: '本报告期未登记碳抵消。', en: 'No offsets recorded for this period.' },
  project: { zh: '项目', en: 'Project' },
  retiredOn: { zh: '注销日期', en: 'Retired on' },
  s8: { zh: '八、产品碳排放强度与产品碳足迹', en: '8. Product intensities and product carbon footprint' },
  line: { zh: '产线', en: 'Line' },
  product: { zh: '产品', en: 'Product' },
  output: { zh: '产量', en: 'Output' },
  perUnitLoc: { zh: 'kgCO₂/单位（基于位置）', en: 'kgCO₂/unit (location)' },
  perUnitMkt: { zh: 'kgCO₂/单位（基于市场）', en: 'kgCO₂/unit (market)' },
  footprint: { zh: '产品碳足迹（门到门，GB/T 24067）', en: 'Product carbon footprint (gate-to-gate, GB/T 24067)' },
  allocation: { zh: '分配规则', en: 'Allocation rule' },
  allocationPhysical: { zh: '按物理产量', en: 'physical output' },
  allocationMass: { zh: '按质量', en: 'mass' },
  allocationEconomic: { zh: '按经济价值', en: 'economic value' },
  pfFactor: { zh: '电力碳足迹因子（加权）', en: 'Electricity footprint factor (weighted)' },
  metered: { zh: '分项计量 (MWh)', en: 'Submetered (MWh)' },
  shared: { zh: '分摊公共用电 (MWh)', en: 'Allocated shared (MWh)' },
  energyMWh: { zh: '电量 (MWh)', en: 'Energy (MWh)' },
  share: { zh: '分配比例', en: 'Share' },
  footprintT: { zh: '碳足迹 (tCO₂e)', en: 'Footprint (tCO₂e)' },
  perUnit: { zh: 'kgCO₂e/声明单位', en: 'kgCO₂e per declared unit' },
  noProducts: { zh: '未提供产品数据。', en: 'No product data given.' },
  s9: { zh: '九、数据质量与完整性', en: '9. Data quality and completeness' },
  complete: { zh: '数据完整', en: 'Data complete' },
  yes: { zh: '是', en: 'yes' },
  no: { zh: '否', en: 'no' },
  quarters: { zh: '15分钟记录（完整/总数）', en: 'Quarter-hours (complete / all)' },
  gaps: { zh: '数据缺口', en: 'Gaps' },
  flags: { zh: '计数器异常标记（复位、跳变）', en: 'Counter flags (resets, jumps)' },
  meterChanges: { zh: '换表记录', en: 'Meter changes' },
  notes: { zh: '说明', en: 'Notes' },
  s10: { zh: '十、排放因子及来源', en: '10. Emission factors and sources' },
  value: { zh: '数值', en: 'Value' },
  dataYear: { zh: '数据年份', en: 'Data year' },
  edition: { zh: '版本', en: 'Edition' },
  sourceCol: { zh: '来源', en: 'Source' },
  usedFor: { zh: '用于', en: 'Used for' },
  s11: { zh: '十一、月度趋势', en: '11. Monthly trend' },
  month: { zh: '月份', en: 'Month' },
  gridMWh: { zh: '电网购电 (MWh)', en: 'Grid (MWh)' },
  onsiteMWh: { zh: '厂内绿电 (MWh)', en: 'On-site renewable (MWh)' },
  greenShare: { zh: '绿电占比', en: 'Green share' },
  co2Loc: { zh: 'CO₂ 基于位置 (t)', en: 'CO₂ location (t)' },
  co2Mkt: { zh: 'CO₂ 基于市场 (t)', en: 'CO₂ market (t)' },
  noMonthly: { zh: '数据源未提供分月数据。', en: 'The source gives no monthly data.' },
  rounding: {
    zh: '数值修约：显示值按四舍五入（半数进位）保留小数，计算全程使用精确有理数，合计以精确值计算后再修约。',
    en: 'Rounding: shown values are rounded half-up; all arithmetic is exact and totals are rounded after summing.',
  },
  remainderResidual: { zh: '未被绿证覆盖的电量按剩余组合因子（扣除市场化交易非化石能源电量的电力平均排放因子）核算', en: 'uncovered electricity at the residual mix' },
  remainderGrid: { zh: '未被绿证覆盖的电量按电网平均排放因子核算（替代剩余组合因子，已披露）', en: 'uncovered electricity at the grid average (substitution disclosed)' },
  signature: { zh: '编制人 / 审核人签字', en: 'Prepared by / reviewed by (signature)' },
} as const;

export type TextKey = keyof typeof TEXT;

/** Inventory line categories as a reader names them. */
const CATEGORY: Record<string, { zh: string; en: string }> = {
  fuel: { zh: '化石燃料燃烧', en: 'fuel combustion' },
  process: { zh: '工业生产过程', en: 'industrial process' },
  electricity: { zh: '外购电力', en: 'purchased electricity' },
  'electricity-instruments': { zh: '绿证/绿电交易覆盖的电网电量', en: 'grid electricity covered by instruments' },
  'electricity-remainder': { zh: '未被绿证覆盖的电网电量', en: 'grid electricity not covered by instruments' },
  'onsite-renewable': { zh: '厂内可再生能源发电自用', en: 'on-site renewable electricity consumed' },
  'onsite-null-power': { zh: '厂内绿电（环境属性已售出）', en: 'on-site renewable electricity (attributes sold)' },
  heat: { zh: '外购热力', en: 'purchased heat' },
  instrument: { zh: '绿证', en: 'instrument' },
};

/** Fuels of the built-in library (runtime/accounting/factors/cn-fuels.yaml). */
const FUEL: Record<string, string> = {
  natural_gas: '天然气',
  diesel: '柴油',
  gasoline: '汽油',
  lpg: '液化石油气',
  lng: '液化天然气',
  fuel_oil: '燃料油',
  raw_coal: '原煤',
};

export function categoryName(lang: Lang, category: string): string {
  return CATEGORY[category]?.[lang] ?? category;
}

export function fuelName(lang: Lang, fuel: string): string {
  return lang === 'zh' ? (FUEL[fuel] ?? fuel) : fuel.replace(/_/g, ' ');
}

export function standards(lang: Lang): string[] {
  return lang === 'zh'
    ? [
        'GB/T 32150-2015《工业企业温室气体排放核算和报告通则》',
        'GB/T 32151 系列行业温室气体排放核算要求；温室气体核算体系（GHG Protocol）企业标准及范围二指南（2015）',
        'GB/T 24067-2024《温室气体 产品碳足迹 量化要求和指南》（产品碳足迹部分）',
      ]
    : [
        'GB/T 32150-2015 General guideline of greenhouse gas emissions accounting and reporting for industrial enterprises',
        'GB/T 32151 sector requirements; GHG Protocol Corporate Standard and Scope 2 Guidance (2015)',
        'GB/T 24067-2024 Greenhouse gases - Carbon footprint of products (product section)',
      ];
}

export function t(lang: Lang, key: TextKey): string {
  return TEXT[key][lang];
}

/** Half-up rounding for display (positive and negative values round away from zero at .5). */
export function fmt(n: number | undefined, digits = 3): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const f = 10 ** digits;
  const r = (Math.sign(n) * Math.round(Math.abs(n) * f + 1e-9)) / f;
  return r.toFixed(digits);
}

export function pct(n: number | undefined, digits = 2): string {
  return n === undefined ? '—' : `${fmt(n * 100, digits)} %`;
}
