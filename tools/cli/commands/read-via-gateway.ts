/**
 * `carbonedge read` on a serial port a running gateway holds (the port is locked): the device is
 * found among the gateway's devices by port and unit id / meter address, and read on demand
 * through the gateway's API (POST /api/devices/:id/read, read-only, through its own bus queue).
 */
import { realpathSync } from 'node:fs';
import type { DeviceRow } from '../../../runtime/http/views.js';
import type { Reading } from '../../../runtime/types.js';
import { loadSiteConfigFile } from '../site.js';
import { gatewayApi, GatewayApiError, gatewayToken, gatewayUrl } from '../gateway-api.js';

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

export interface GatewayRead {
  readings: Reading[];
  device: DeviceRow;
  url: string;
}

/** Read through the gateway, or say why not (no API answering, no such device there). */
export async function readViaGateway(opts: { port: string; unitId?: number; address?: string; profile?: string; url?: string; config?: string; token?: string }): Promise<GatewayRead | { failure: string }> {
  const config = opts.config ? (await loadSiteConfigFile(opts.config)).config : undefined;
  const api = gatewayApi(gatewayUrl({ url: opts.url, config }), gatewayToken(opts.token, config));
  try {
    const { devices } = (await api.get('/api/devices')) as { devices: DeviceRow[] };
    const port = real(opts.port);
    const here = devices.filter((d) => real(d.port) === port && (opts.address !== undefined ? d.address === opts.address : d.unitId === opts.unitId));
    // Devices sharing a unit id (one Modbus server answering for several): the one with the asked profile.
    const device = here.find((d) => d.profile === opts.profile) ?? here[0];
    if (!device) {
      const onPort = devices.filter((d) => real(d.port) === port).map((d) => `${d.id} (${d.unitId ?? d.address})`);
      return { failure: `the gateway at ${api.url} has no device ${opts.address ?? `unit ${opts.unitId}`} on ${opts.port}${onPort.length ? ` (it has ${onPort.join(', ')})` : ''}` };
    }
    const { readings } = (await api.post(`/api/devices/${encodeURIComponent(device.id)}/read`)) as { readings: Reading[] };
    return { readings, device, url: api.url };
  } catch (err) {
    if (err instanceof GatewayApiError) return { failure: err.message };
    throw err;
  }
}
