import path from 'node:path';
import type { Gateway } from '../../../runtime/gateway.js';
import { isDlt645Profile } from '../../../drivers/profiles/types.js';
import { validateSiteConfig } from '../site.js';
import type { Logger } from '../../../runtime/logger.js';
import { cliLogger } from '../log-format.js';
import { DEMO_REVENUE_METER, demoSiteConfig, demoSiteConfigYaml } from '../../simulator/demo-config.js';
import { DEMO_FACTORY } from '../../simulator/demo-factory.js';
import { loadDemoState, saveDemoState } from '../../simulator/demo-state.js';
import { startRevenueMeter } from '../../simulator/demo-revenue-meter.js';
import { DEMO_DEVICES, type DemoDevice } from '../../simulator/demo-site.js';
import type { ReadingsHub } from '../../../runtime/readings-hub.js';
import { SimulatorServer } from '../../simulator/server.js';
import { SimulatedSite } from '../../simulator/site.js';
import { runGatewayProcess } from '../gateway-process.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';
import { GATEWAY_EXIT_CODES } from '../exit-codes.js';
import { DATA_DIR_ENV } from '../../../runtime/config/data-dir.js';

const usage = 'carbonedge demo [--print-config] [--uplink URL] [--http HOST:PORT] [--data DIR] [--dry-run] [--port N] [--speed N] [--seed N] [--log-format pretty|json]';

/** The port `--print-config` writes into the config: the default of `carbonedge simulate --site demo`. */
const PRINTED_PORT = 1502;
const LIVE_LOG_EVERY_MS = 10_000;
const SAVE_EVERY_MS = 10_000;
export const DEMO_CONFIG_FILE = '<built-in demo config>';

/** The demo's data: `demo/` under $CARBONEDGE_DATA_DIR (the container's /data), else ./.carbonedge/demo. */
function demoDataDir(env = process.env): string {
  const base = env[DATA_DIR_ENV];
  return base ? path.join(base, 'demo') : '.carbonedge/demo';
}

const fmtKw = (w: number) => `${(w / 1000).toFixed(2)} kW`;
const fmtKwh = (kwh: number) => `${kwh.toFixed(1)} kWh`;

/** One compact line of the latest values the gateway read from a device, or undefined before any. */
export function liveSummary(hub: ReadingsHub, device: DemoDevice): { fields: Record<string, unknown>; msg: string } | undefined {
  const num = (point: string): number | undefined => {
    const r = hub.latest(device, point);
    return r && r.quality === 'good' && typeof r.value === 'number' ? r.value : undefined;
  };
  const power = hub.latest(device, 'active_power');
  if (!power) return undefined;
  const fields: Record<string, unknown> = { device, quality: power.quality };
  const p = num('active_power');
  if (p === undefined) return { fields: { ...fields, error: power.error }, msg: `${device}: no good value (${power.quality}${power.error ? `: ${power.error}` : ''})` };
  fields.power_w = p;
  let msg: string;
  switch (device) {
    case 'grid': {
      const imp = num('energy_import');
      const exp = num('energy_export');
      Object.assign(fields, { energy_import_kwh: imp, energy_export_kwh: exp, voltage_l1: num('voltage_l1'), frequency: num('frequency') });
      msg = `grid meter: ${p >= 0 ? 'importing' : 'exporting'} ${fmtKw(Math.abs(p))} | import ${fmtKwh(imp ?? NaN)}, export ${fmtKwh(exp ?? NaN)}`;
      break;
    }
    case 'pv': {
      const e = num('energy_export');
      fields.energy_kwh = e;
      msg = `pv: generating ${fmtKw(p)} | produced ${fmtKwh(e ?? NaN)}`;
      break;
    }
    case 'battery': {
      const soc = num('soc');
      Object.assign(fields, { soc, energy_import_kwh: num('energy_import'), energy_export_kwh: num('energy_export') });
      msg = `battery: ${p > 0 ? `discharging ${fmtKw(p)}` : p < 0 ? `charging ${fmtKw(-p)}` : 'idle'} | SoC ${soc?.toFixed(1) ?? '?'} %`;
      break;
    }
    case 'heatpump': {
      const e = num('energy_import');
      const sg = num('sg_state');
      Object.assign(fields, { energy_kwh: e, sg_state: sg });
      msg = `heat pump: ${fmtKw(p)} in SG-Ready state ${sg ?? '?'} | consumed ${fmtKwh(e ?? NaN)}`;
      break;
    }
    case 'load': {
      const e = num('energy_import');
      const relay = hub.latest(device, 'relay')?.value;
      Object.assign(fields, { energy_kwh: e, relay });
      msg = `flexible load: ${relay ? 'on' : 'off'}, ${fmtKw(p)} | consumed ${fmtKwh(e ?? NaN)}`;
      break;
    }
  }
  return { fields, msg };
}

/** Log each device's live values once it has some, then every ~10 s. Returns a stop function. */
function startLiveLog(gw: Gateway, logger: Logger, everyMs = LIVE_LOG_EVERY_MS): () => void {
  const last = new Map<DemoDevice, number>();
  const timer = setInterval(() => {
    const now = performance.now(); // an interval: monotonic
    for (const d of DEMO_DEVICES) {
      const prev = last.get(d);
      if (prev !== undefined && now - prev < everyMs) continue;
      const s = liveSummary(gw.ctx.hub, d);
      if (!s) continue;
      last.set(d, now);
      logger.info({ live: s.fields }, s.msg);
    }
  }, 500);
  timer.unref();
  return () => clearInterval(timer);
}

export const command: Command = {
  summary: 'Run the demo factory: simulated PV, battery, heat pump, chilled-water store, production line, grid and DL/T 645 revenue meters with the gateway, on loopback.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        'print-config': { type: 'boolean' },
        uplink: { type: 'string' },
        http: { type: 'string' },
        data: { type: 'string' },
        'dry-run': { type: 'boolean' },
        port: { type: 'string' },
        speed: { type: 'string' },
        seed: { type: 'string' },
        'log-format': { type: 'string' },
      });
      const port = values.port !== undefined ? Number(values.port) : undefined;
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError(`--port expects 0..65535, got '${values.port}'`);
      const speed = values.speed !== undefined ? Number(values.speed) : 1;
      if (!Number.isFinite(speed) || speed <= 0) throw new UsageError(`--speed expects a positive number, got '${values.speed}'`);
      const seed = values.seed !== undefined ? Number(values.seed) : undefined;
      if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed expects an integer, got '${values.seed}'`);

      if (values['print-config']) {
        process.stdout.write(demoSiteConfigYaml({ tcpPort: port || PRINTED_PORT, dryRun: values['dry-run'] }));
        return 0;
      }

      const logger = cliLogger(values['log-format']);
      // Validate the built-in config (and load the profiles) before anything starts.
      const { profiles } = validateSiteConfig(demoSiteConfig({ tcpPort: port || PRINTED_PORT }), DEMO_CONFIG_FILE);
      const dataDir = path.resolve(values.data ?? demoDataDir());
      // A second run continues the simulated meters where the first one stopped.
      const saved = loadDemoState(dataDir);
      const physics = { ...DEMO_FACTORY, seed, ...(saved ? { initialCounters: saved.counters, battery: { ...DEMO_FACTORY.battery, initialSoc: saved.soc } } : {}) };
      const sim = new SimulatedSite({ profiles, site: physics, speed, logger: logger.child({ part: 'simulator' }) });
      let server: SimulatorServer;
      try {
        server = await SimulatorServer.start({
          tcp: { port: port ?? 0, host: '127.0.0.1' },
          devices: sim.devices,
          logger: logger.child({ part: 'simulator' }),
          writeLogLevel: 'debug', // the gateway's write gate logs every write with its reason
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`port ${port} on 127.0.0.1 is in use (choose another with --port N, or 0 for any free port)`);
        throw err;
      }
      const revenueProfile = profiles.get(DEMO_REVENUE_METER.profile);
      const revenue = await startRevenueMeter(sim, revenueProfile && isDlt645Profile(revenueProfile) ? revenueProfile : undefined);
      sim.start();
      const save = () => {
        try {
          saveDemoState(dataDir, sim.site, Date.now());
        } catch (err) {
          logger.warn({ err, dataDir }, 'could not save the simulators\' counters; the next run starts them over');
        }
      };
      const saveTimer = setInterval(save, SAVE_EVERY_MS);
      saveTimer.unref();
      const site = validateSiteConfig(demoSiteConfig({ tcpPort: server.tcpPort!, dryRun: values['dry-run'], dlt645Port: revenue?.port }), DEMO_CONFIG_FILE);
      if (speed !== 1) logger.warn({ speed }, 'simulated time runs faster than the wall clock: energy counters grow accordingly');
      logger.info(
        { modbusTcp: `127.0.0.1:${server.tcpPort}`, ...(revenue ? { dlt645Tcp: `127.0.0.1:${revenue.port}` } : {}), devices: site.config.devices.length, speed, continued: !!saved },
        `demo factory simulators serving on loopback${saved ? ' (counters continued from the last run)' : ''}`,
      );
      let stopLive: (() => void) | undefined;
      return runGatewayProcess(
        site,
        { uplinkUrl: values.uplink, http: values.http, dataDir, dryRun: values['dry-run'] ? true : undefined },
        {
          logger,
          onStarted: (gw) => {
            stopLive = startLiveLog(gw, logger);
            logger.info({ dataDir: gw.ctx.dataDir }, 'demo running: live values below every ~10 s; Ctrl-C to stop');
          },
          onStop: async () => {
            stopLive?.();
            clearInterval(saveTimer);
            sim.stop();
            save();
            await server.close();
            await revenue?.close();
            logger.info({ writesReceived: { ...sim.site.writeCount } }, 'demo site simulators stopped');
          },
        },
      );
    }, GATEWAY_EXIT_CODES),
};
