/** The demo site (simulators on loopback) with a gateway serving the page and API on a free 127.0.0.1 port. */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import type { HttpConfig } from '../../runtime/http/config.js';
import { FEATURES } from '../../tools/cli/features.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite } from '../../tools/simulator/site.js';
import { freePort, waitFor } from '../helpers/peers.js';

export interface DemoGateway {
  url: string;
  gw: Gateway;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startDemoGateway(http: HttpConfig = {}, tweak: (c: SiteConfig) => SiteConfig = (c) => c): Promise<DemoGateway> {
  const { profiles } = loadBuiltinProfiles();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'http-gw-'));
  const sim = new SimulatedSite({ profiles, site: { seed: 7 } });
  const server = await SimulatorServer.start({ tcp: { port: 0, host: '127.0.0.1' }, devices: sim.devices });
  sim.start();
  const port = await freePort();
  const base = demoSiteConfig({ tcpPort: server.tcpPort! });
  const config = tweak({ ...base, http: { listen: `127.0.0.1:${port}`, ...http } });
  const gw = new Gateway({ config, profiles, logger: silentLogger(), options: { dataDir }, features: FEATURES });
  await gw.start();
  const stop = async () => {
    await gw.stop();
    sim.stop();
    await server.close();
  };
  try {
    // Every device has read good values (the production line has no power point: any point counts).
    const good = () => new Set([...gw.ctx.hub.snapshot().values()].filter((r) => r.quality === 'good').map((r) => r.device));
    await waitFor(() => gw.ctx.config.devices.every((d) => good().has(d.id)), 20_000, 'a good reading of every device');
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, gw, dataDir, stop };
}
