/**
 * The demo site's configuration: five simulated devices on one Modbus TCP bus on loopback, with
 * example control rules. `carbonedge demo` runs it; `carbonedge demo --print-config` prints it as
 * commented YAML, the natural starting point for a real site's file.
 */
import YAML, { isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import type { SiteConfig } from '../../runtime/config/types.js';
import type { DeviceRole } from '../../runtime/types.js';
import type { DemoDevice } from './demo-site.js';
import { demoRules } from '../../rules/examples.js';
import { DEMO_FACTORY_LABELS, DEMO_FACTORY_TIMEZONE } from './demo-factory.js';

export interface DemoDeviceSpec {
  unitId: number;
  profile: string;
  role: DeviceRole;
  name: string;
  pollIntervalMs: number;
}

/** The demo's devices: unit ids on the simulated bus and the profiles they speak. */
export const DEMO_DEVICE_SPECS: Record<DemoDevice, DemoDeviceSpec> = {
  grid: { unitId: 1, profile: 'eastron-sdm630', role: 'grid_meter', name: 'Grid meter at the point of connection', pollIntervalMs: 2000 },
  pv: { unitId: 2, profile: 'sunspec-inverter-103', role: 'pv_inverter', name: DEMO_FACTORY_LABELS.pv, pollIntervalMs: 5000 },
  battery: { unitId: 3, profile: 'carbonedge-battery', role: 'battery', name: DEMO_FACTORY_LABELS.battery, pollIntervalMs: 5000 },
  heatpump: { unitId: 4, profile: 'carbonedge-sg-ready-heat-pump', role: 'heat_pump', name: DEMO_FACTORY_LABELS.heatpump, pollIntervalMs: 5000 },
  load: { unitId: 5, profile: 'carbonedge-relay-load', role: 'load', name: DEMO_FACTORY_LABELS.load, pollIntervalMs: 5000 },
};

/** The production line's output counter: Modbus unit 6 on the demo bus. */
export const DEMO_LINE = { id: 'line', unitId: 6, profile: 'carbonedge-production-counter', role: 'production_counter', name: DEMO_FACTORY_LABELS.line, pollIntervalMs: 5000 } as const;

/** The grid company's DL/T 645 revenue meter at the connection (read-only, its own bus). */
export const DEMO_REVENUE_METER = { id: 'revenue', address: '000000123456', profile: 'dlt645-2007', role: 'other', name: DEMO_FACTORY_LABELS.revenue, pollIntervalMs: 10_000 } as const;

export interface DemoConfigOptions {
  /** Port of the simulated Modbus TCP bus. */
  tcpPort: number;
  /** Host of the simulated bus (loopback). */
  host?: string;
  /** Global read-only mode. */
  dryRun?: boolean;
  /** Port of the simulated DL/T 645 line (a serial-to-Ethernet converter on loopback); without it, no revenue meter. */
  dlt645Port?: number;
}

/** The demo site configuration (a SiteConfig, validated like any site file). */
export function demoSiteConfig(opts: DemoConfigOptions): SiteConfig {
  const rules = demoRules();
  const devices = (Object.keys(DEMO_DEVICE_SPECS) as DemoDevice[]).map((id) => {
    const s = DEMO_DEVICE_SPECS[id];
    return { id, name: s.name, role: s.role, bus: 'demo', unitId: s.unitId, profile: s.profile, pollIntervalMs: s.pollIntervalMs };
  });
  const { id: lineId, ...line } = DEMO_LINE;
  const { id: revenueId, ...revenue } = DEMO_REVENUE_METER;
  const host = opts.host ?? '127.0.0.1';
  return {
    version: 1,
    site: { id: 'demo-factory', name: 'carbonedge demo factory (苏州示范工厂)', timezone: DEMO_FACTORY_TIMEZONE },
    gateway: { id: 'demo-gateway', dryRun: opts.dryRun ?? false },
    buses: [
      { id: 'demo', type: 'tcp', host, port: opts.tcpPort, timeoutMs: 1000 },
      ...(opts.dlt645Port !== undefined ? [{ id: 'meter-line', type: 'dlt645-tcp' as const, host, port: opts.dlt645Port, timeoutMs: 1500 }] : []),
    ],
    devices: [
      ...devices,
      { id: lineId, ...line, bus: 'demo' },
      ...(opts.dlt645Port !== undefined ? [{ id: revenueId, ...revenue, bus: 'meter-line', tags: { purpose: 'revenue-meter' } }] : []),
    ],
    accounting: {
      gridFactor: 'CN-2023-national',
      residualFactor: 'CN-2023-residual',
      marketRemainder: 'residual',
      onsiteAttributes: 'retained',
      // The production line's output counter: kgCO2 per piece in every carbon-15m record.
      devices: { [lineId]: { point: 'output_count', unit: 'pcs', line: 'L1' } },
    },
    // The shipped example rules (rules/examples/demo-rules.yaml): PV export runs the flexible
    // load, then boosts the heat pump; the battery does self-consumption with a reserve.
    control: rules.control,
    rules: rules.rules,
  };
}

/** Comments of the printed config, by path (`*` = any list index). */
const COMMENTS: Record<string, string> = {
  version: ' Site configuration format version (always 1 for now).',
  site: ' The site: its id appears in every record sent to the cloud.',
  'site.timezone': ' IANA time zone of the site: local-time rules and daily totals use it.',
  gateway: ' This gateway. dryRun: true = read-only, no write reaches any device (rules still log\n what they would do). The store lives in gateway.dataDir, or in the --data directory.',
  buses:
    ' Physical buses. Modbus TCP: type tcp, host, port. RS-485 adapters: type rtu, path\n' +
    ' (prefer /dev/serial/by-id/...), baudRate, parity none|even|odd, stopBits. Serial-to-Ethernet\n' +
    ' converters passing raw RTU frames: type rtu-over-tcp. One transaction at a time per bus.',
  'buses.*.timeoutMs': ' Per-request timeout (ms); a device that does not answer in time is backed off.',
  devices:
    ' Devices on the buses. unitId = Modbus address (1-247); profile = a register map in\n' +
    ' device-profiles/ (or in a directory listed under profileDirs); role tells accounting and\n' +
    ' rules what the device is (grid_meter, pv_inverter, battery, heat_pump, load, submeter, ...).',
  'devices.*.pollIntervalMs': ' How often to read every point of the device (ms).',
  accounting:
    ' Carbon accounting (runtime/accounting/README.md): grid and residual-mix factors from the\n' +
    ' factor library (ids or numbers in tCO2/MWh), the market-based remainder method, and whether the\n' +
    ' on-site PV certificates are retained or sold. 15-minute and daily summaries go to the uplink.',
  control: ' Rule engine: evaluated every tickMs on one snapshot of the latest values. Every write\n goes through the write gate (logged, honours dryRun).',
  rules: ' Control rules. Outputs name a device (its profile modes: on/off, sg2-normal...) or a\n device.point; expressions read device.point values and derived inputs such as pv_surplus.',
};

function annotate(node: Node | null | undefined, path: string[]): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const p = [...path, key];
      const comment = COMMENTS[p.join('.')];
      if (comment) pair.key.commentBefore = comment;
      annotate(pair.value as Node, p);
    }
  } else if (isSeq(node)) {
    // Comment the first item of a list only; the others have the same fields.
    node.items.forEach((item, i) => annotate(item as Node, [...path, i === 0 ? '*' : '-']));
  }
}

/** The demo configuration as YAML with a comment on each section and on the main fields. */
export function demoSiteConfigYaml(opts: DemoConfigOptions): string {
  const doc = new YAML.Document(demoSiteConfig(opts));
  annotate(doc.contents, []);
  doc.commentBefore =
    ' carbonedge site configuration: the built-in demo site (carbonedge demo --print-config).\n' +
    ' Copy it, replace the demo bus and devices by your own, then check it with\n' +
    '   carbonedge check --config site.yaml\n' +
    ' and run it with\n' +
    '   carbonedge run --config site.yaml';
  return doc.toString({ lineWidth: 110 });
}
