/**
 * Stale invalidation through the real gateway: a device that goes silent never keeps presenting
 * its last value as good. While the poller still waits for a reply (timeout longer than the stale
 * age) the gateway's sweep marks the value stale; when the request times out it becomes
 * comm-error; when the device answers again it is good again.
 * Ages and backoff run on an injected clock the test moves: no assertion depends on how fast this
 * machine is (only the sweep's 1 s timer has to fire within the device's 3 s timeout).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { acquisitionFeature } from '../../runtime/acquisition/feature.js';
import type { DeviceConfig, SiteConfig } from '../../runtime/config/types.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import type { Reading } from '../../runtime/types.js';
import { startMbapPeer, type MbapPeer } from '../drivers/mbap-peer.js';
import { waitFor } from '../helpers/peers.js';
import { ACQUISITION } from '../../runtime/acquisition/feature.js';
import { TestClock } from '../helpers/test-clock.js';
import { oneRegister } from '../drivers/fixtures.js';

function config(port: number, device: Partial<DeviceConfig>): SiteConfig {
  return {
    version: 1,
    site: { id: 'stale-test' },
    gateway: { id: 'gw' },
    buses: [{ id: 'plant', type: 'tcp', host: '127.0.0.1', port }],
    devices: [{ id: 'meter', role: 'grid_meter', bus: 'plant', unitId: 1, profile: 'one-register', pollIntervalMs: 100, ...device }],
  };
}

describe('stale values through the gateway', () => {
  let peer: MbapPeer | undefined;
  let gw: Gateway | undefined;
  afterEach(async () => {
    await gw?.stop();
    await peer?.close();
    gw = undefined;
    peer = undefined;
  });

  it('a device that goes silent: good -> stale (sweep, while the request waits) -> comm-error -> good when it answers again', async () => {
    peer = await startMbapPeer();
    // Device-level timeout (3 s) far beyond the stale age (300 ms): only the sweep can flag the value.
    const clock = new TestClock();
    gw = new Gateway({
      config: config(peer.port, { staleAfterMs: 300, timeoutMs: 3000 }),
      profiles: new Map([['one-register', oneRegister]]),
      logger: silentLogger(),
      features: [acquisitionFeature],
      options: { clock },
    });
    const seen: Reading[] = [];
    gw.ctx.hub.subscribe((b) => seen.push(...b.filter((r) => r.device === 'meter' && r.point === 'value')));
    await gw.start();
    const hub = gw.ctx.hub;
    await waitFor(() => hub.latest('meter', 'value')?.quality === 'good', 10_000, 'first good value');
    expect(hub.latest('meter', 'value')!.value).toBe(1007);

    peer.silent.add(1);
    // Once the device has ignored a request, every good value it gave is already published.
    await waitFor(() => (peer!.ignored.get(1) ?? 0) >= 1, 10_000, 'a request to the silent device');
    const mark = seen.length;
    const lastGood = hub.latest('meter', 'value')!;
    expect(lastGood.quality).toBe('good');

    // The value ages only as the clock moves: exactly at the stale age it is still good.
    clock.advance(300);
    expect(hub.sweep()).toBe(0);
    expect(hub.latest('meter', 'value')!.quality).toBe('good');
    clock.advance(1);
    await waitFor(() => hub.latest('meter', 'value')?.quality === 'stale', 10_000, 'stale by the gateway sweep');
    const stale = hub.latest('meter', 'value')!;
    expect(stale.error).toBe('no fresh value for 301 ms (stale after 300 ms)');
    expect(stale.ts).toBe(lastGood.ts);
    // Still waiting for the reply: the poller has not reported a failure yet.
    const poller = gw.ctx.services.get(ACQUISITION)!.pollers().get('meter')!;
    expect(poller.stats.failed).toBe(0);

    await waitFor(() => hub.latest('meter', 'value')?.quality === 'comm-error', 10_000, 'comm-error after the timeout');
    const failed = hub.latest('meter', 'value')!;
    expect(failed.value).toBeNull();
    expect(failed.error).toMatch(new RegExp(`device meter \\(unit 1 on modbus-tcp://127\\.0\\.0\\.1:${peer.port}\\) holding 7: no reply within 3000 ms`));

    // While silent, nothing published for the point was good.
    const whileSilent = seen.slice(mark);
    expect(whileSilent.some((r) => r.quality === 'good')).toBe(false);
    const order = whileSilent.map((r) => r.quality).filter((q, i, a) => q !== a[i - 1]);
    expect(order.slice(0, 2)).toEqual(['stale', 'comm-error']);

    // The failed poll backed the device off (1 s +-20 %, on the clock): let that time pass.
    clock.advance(1200);
    peer.silent.delete(1);
    const back = seen.length;
    await waitFor(() => hub.latest('meter', 'value')?.quality === 'good', 15_000, 'good again after the device returned');
    expect(hub.latest('meter', 'value')!.value).toBe(1007);
    expect(hub.latest('meter', 'value')!.ts).toBeGreaterThan(lastGood.ts);
    expect(seen.slice(back).some((r) => r.quality === 'good')).toBe(true);
  });

  it('the default stale age is 3 x the poll interval unless the gateway sets one', async () => {
    peer = await startMbapPeer();
    const clock = new TestClock();
    gw = new Gateway({
      config: { ...config(peer.port, { pollIntervalMs: 200, timeoutMs: 3000 }), gateway: { id: 'gw' } },
      profiles: new Map([['one-register', oneRegister]]),
      logger: silentLogger(),
      features: [acquisitionFeature],
      options: { clock },
    });
    await gw.start();
    const hub = gw.ctx.hub;
    await waitFor(() => hub.latest('meter', 'value')?.quality === 'good', 10_000, 'first good value');
    peer.silent.add(1);
    await waitFor(() => (peer!.ignored.get(1) ?? 0) >= 1, 10_000, 'a request to the silent device');
    clock.advance(600);
    expect(hub.sweep()).toBe(0);
    clock.advance(1);
    await waitFor(() => hub.latest('meter', 'value')?.quality === 'stale', 10_000, 'stale');
    expect(hub.latest('meter', 'value')!.error).toBe('no fresh value for 601 ms (stale after 600 ms)');
  });
});
