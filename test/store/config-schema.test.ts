import { describe, expect, it } from 'vitest';
import { validateSiteConfig } from '../../tools/cli/site.js';
import type { ConfigError } from '../../runtime/config/errors.js';

const base = {
  version: 1,
  site: { id: 'site1' },
  gateway: { id: 'gw1' },
  buses: [{ id: 'b', type: 'tcp', host: '127.0.0.1', port: 502 }],
  devices: [{ id: 'grid', role: 'grid_meter', bus: 'b', unitId: 1, profile: 'eastron-sdm630', pollIntervalMs: 1000 }],
};

function issues(extra: Record<string, unknown>): { path: string; message: string }[] {
  try {
    validateSiteConfig({ ...base, ...extra }, 'site.yaml');
    return [];
  } catch (err) {
    return (err as ConfigError).issues;
  }
}

describe('store and uplink config sections', () => {
  it('accepts a full, valid store and uplink section', () => {
    expect(
      issues({
        store: {
          flushIntervalMs: 1000,
          maxBytes: 512 * 1024 * 1024,
          retention: { rawHours: 24, oneMinuteDays: 14 },
          publish: { readings15m: false },
          counters: { rolloverAt: 1e6, points: ['grid/energy_import'] },
        },
        uplink: {
          url: 'mqtts://broker.example.com:8883',
          topicPrefix: 'factory/a',
          username: 'gw',
          passwordEnv: 'MQTT_PASSWORD',
          tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' },
          compression: 'gzip',
          backfillRecordsPerSec: 500,
        },
      }),
    ).toEqual([]);
  });

  it('reports every problem at once with its path', () => {
    const found = issues({
      store: { maxBytes: 10, retention: { rawHours: 0 }, counters: { points: ['nodevice/energy'] }, bogus: 1 },
      uplink: { url: 'http://x', compression: 'zip', tls: { cert: 'c.pem' }, reconnect: { minMs: 5000, maxMs: 1000 } },
    });
    const paths = found.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['/store/maxBytes', '/store/retention/rawHours', '/uplink/url', '/uplink/compression']),
    );
    expect(found.some((i) => /bogus/.test(i.message) || i.path.includes('bogus'))).toBe(true);
  });

  it('cross-checks: counter points name known devices; TLS cert needs key; reconnect min <= max', () => {
    const found = issues({
      store: { counters: { points: ['nodevice/energy'] } },
      uplink: { url: 'mqtt://x:1883', tls: { cert: 'c.pem' }, reconnect: { minMs: 5000, maxMs: 1000 } },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '/store/counters/points/0', message: expect.stringMatching(/unknown device 'nodevice'/) }),
        expect.objectContaining({ path: '/uplink/tls', message: expect.stringMatching(/cert and key/) }),
        expect.objectContaining({ path: '/uplink/reconnect' }),
      ]),
    );
  });
});
