import type { DeviceRow } from '../../../runtime/http/views.js';
import type { HealthReport } from '../../../runtime/http/health.js';
import type { SiteConfig } from '../../../runtime/config/types.js';
import { loadSiteConfigFile } from '../site.js';
import type { Command } from '../command.js';
import { formatTable, parseCommandArgs, runCommand } from '../command.js';
import { gatewayApi, GatewayApiError, gatewayToken, gatewayUrl } from '../gateway-api.js';

const usage = 'carbonedge status [--url http://HOST:PORT] [--config FILE] [--token TOKEN] [--json]';

interface StatusView {
  site: string;
  gateway: string;
  dryRun: boolean;
  store: { usedBytes: number; maxBytes: number; backlogRecords: number; oldestUnsentAgeMs: number; dropped: Record<string, number | Record<string, number>> } | null;
  uplink: { connected: boolean; url: string; lastAckAt?: number; lastError?: string; backlogRecords: number } | null;
}

const age = (ms: number | null) => (ms === null ? 'never' : ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 3_600_000)} h`);
const fixed = (v: number | null, div: number, digits: number) => (v === null ? '-' : (v / div).toFixed(digits));
const droppedTotal = (d: Record<string, number | Record<string, number>>) =>
  Object.values(d).reduce<number>((a, v) => a + (typeof v === 'number' ? v : Object.values(v).reduce((x, y) => x + y, 0)), 0);

/** The compact report of a running gateway. */
export function statusText(devices: DeviceRow[], s: StatusView, health: HealthReport): string {
  const rows = devices.map((d) => [
    d.id,
    fixed(d.powerW, 1000, 2),
    fixed(d.energyKwh, 1, 1),
    d.quality,
    age(d.lastGoodAgeMs),
    String(d.errors),
    d.backoff ? `backed off (${d.backoff.failures})` : '',
  ]);
  const lines = [
    `${s.site} / ${s.gateway}${s.dryRun ? ' (dry-run)' : ''}: ${health.ok ? 'healthy' : `UNHEALTHY: ${health.reasons.join('; ')}`}`,
    '',
    formatTable(['device', 'power kW', 'energy kWh', 'quality', 'last good', 'errors', ''], rows, new Set([1, 2, 4, 5])),
    '',
  ];
  if (s.store) {
    lines.push(
      `store:  ${(s.store.usedBytes / 1e6).toFixed(1)} of ${(s.store.maxBytes / 1e6).toFixed(0)} MB, backlog ${s.store.backlogRecords} record(s), oldest unsent ${s.store.backlogRecords ? age(s.store.oldestUnsentAgeMs) : '-'}, dropped ${droppedTotal(s.store.dropped)}`,
    );
  }
  if (s.uplink) {
    const ack = s.uplink.lastAckAt === undefined ? 'never' : `${age(Date.now() - s.uplink.lastAckAt)} ago`;
    lines.push(`uplink: ${s.uplink.connected ? 'connected' : 'DISCONNECTED'} ${s.uplink.url}, last ack ${ack}${s.uplink.lastError ? `, last error: ${s.uplink.lastError}` : ''}`);
  } else lines.push('uplink: not configured (store only)');
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: 'Show a running gateway: devices (power, energy, quality, age of the last good read, errors), store and uplink, via its HTTP API.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        url: { type: 'string' },
        config: { type: 'string', short: 'c' },
        token: { type: 'string' },
        json: { type: 'boolean' },
      });
      let config: SiteConfig | undefined;
      if (values.config) config = (await loadSiteConfigFile(values.config)).config;
      const api = gatewayApi(gatewayUrl({ url: values.url, config }), gatewayToken(values.token, config));
      try {
        const [devices, status, health] = await Promise.all([api.get('/api/devices'), api.get('/api/status'), healthOf(api.url, gatewayToken(values.token, config))]);
        if (values.json) {
          process.stdout.write(`${JSON.stringify({ ...(devices as object), status, health }, null, 2)}\n`);
        } else {
          process.stdout.write(statusText((devices as { devices: DeviceRow[] }).devices, status as StatusView, health));
        }
        return health.ok ? 0 : 3;
      } catch (err) {
        if (!(err instanceof GatewayApiError)) throw err;
        process.stderr.write(`carbonedge status: ${err.message}\n`);
        return 1;
      }
    }),
};

/** /healthz answers 503 with its reasons when unhealthy: a report, not a failure of the request. */
async function healthOf(url: string, token: string | undefined): Promise<HealthReport> {
  const res = await fetch(`${url}/healthz`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(15_000) }).catch((err: Error) => {
    throw new GatewayApiError(`no gateway API answering at ${url} (${(err.cause as { code?: string } | undefined)?.code ?? err.message})`);
  });
  if (res.status !== 200 && res.status !== 503) throw new GatewayApiError(`${url}/healthz: ${res.status}${res.status === 401 ? ' (give --token TOKEN or set CARBONEDGE_TOKEN)' : ''}`, res.status);
  return (await res.json()) as HealthReport;
}
