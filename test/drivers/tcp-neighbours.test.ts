/**
 * A dead device on a shared Modbus TCP connection (a unit behind a TCP gateway that never
 * answers) must not slow its healthy neighbour. Counts are compared with a control device polled
 * at the same interval on its own connection in the same run, so machine load affects both
 * alike and nothing is asserted about wall time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { acquisitionFeature, type AcquisitionService } from '../../runtime/acquisition/feature.js';
import type { Profile } from '../../drivers/profiles/types.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { recordReads } from '../helpers/bus-requests.js';
import { waitFor } from '../helpers/peers.js';
import { TestClock } from '../helpers/test-clock.js';
import { startMbapPeer, type MbapPeer } from './mbap-peer.js';
import { ACQUISITION } from '../../runtime/acquisition/feature.js';

const twoBlocks: Profile = {
  id: 'two-blocks',
  version: 1,
  manufacturer: 'carbonedge tests',
  model: 'two register blocks',
  kind: 'meter',
  source: { document: 'test fixture' },
  limits: { maxRegistersPerRequest: 125, maxFillRegisters: 2, prohibited: [], interRequestDelayMs: 0, timeoutMs: 100 },
  points: [
    { id: 'a', register: 'holding', address: 0, type: 'u16' },
    { id: 'b', register: 'input', address: 10, type: 'u16' },
  ],
};

describe('healthy neighbours on a shared Modbus TCP connection', () => {
  let peer: MbapPeer | undefined;
  let gw: Gateway | undefined;
  afterEach(async () => {
    await gw?.stop();
    await peer?.close();
  });

  it('keep their poll rate while a neighbour is dead (backed off, capped requests)', async () => {
    peer = await startMbapPeer();
    peer.silent.add(2);
    const interval = 200;
    const config: SiteConfig = {
      version: 1,
      site: { id: 'neighbours' },
      gateway: { id: 'gw' },
      buses: [
        { id: 'shared', type: 'tcp', host: '127.0.0.1', port: peer.port },
        { id: 'own', type: 'tcp', host: '127.0.0.1', port: peer.port },
      ],
      devices: [
        // Only the dead device has the profile's short timeout (100 ms): a loaded machine that
        // answers a healthy request late must not fail it (4 x 200 ms is the longest timeout the
        // config validator allows at this poll interval).
        { id: 'healthy', role: 'submeter', bus: 'shared', unitId: 1, profile: 'two-blocks', pollIntervalMs: interval, timeoutMs: 4 * interval },
        { id: 'dead', role: 'submeter', bus: 'shared', unitId: 2, profile: 'two-blocks', pollIntervalMs: interval },
        { id: 'control', role: 'submeter', bus: 'own', unitId: 3, profile: 'two-blocks', pollIntervalMs: interval, timeoutMs: 4 * interval },
      ],
    };
    // The gateway's own monotonic clock (real pace) times the dead device's requests below.
    const clock = new TestClock({ real: true });
    gw = new Gateway({ config, profiles: new Map([['two-blocks', twoBlocks]]), logger: silentLogger(), options: { clock }, features: [acquisitionFeature] });
    await gw.start();
    const acq = gw.ctx.services.get(ACQUISITION)!;
    const sharedReads = recordReads(acq.buses().get('shared')!, () => clock.mono());
    const healthy = acq.pollers().get('healthy')!;
    const dead = acq.pollers().get('dead')!;
    const control = acq.pollers().get('control')!;
    // Run until the control device has completed 15 cycles (about 3 s unloaded).
    await waitFor(() => control.stats.complete >= 15, 30_000, 'control polls');
    const counts = { healthy: healthy.stats.complete, healthyFailed: healthy.stats.failed, control: control.stats.complete };
    // The gateway's stop closes the buses at once, failing a request in flight as 'closed': stop
    // the dead device's poller first, which lets its last request time out as any other.
    await dead.stop();
    const dc = { deadRequests: dead.stats.requests, deadPolls: dead.stats.polls, ignored: peer.ignored.get(2), timeouts: acq.buses().get('shared')!.stats.timeouts };
    await gw.stop();
    gw = undefined;

    // Every healthy cycle succeeded, and none was lost: the one timeout per backoff period the
    // dead device costs the shared bus (100 ms) only delays a healthy cycle within its 200 ms
    // interval. (At most the cycle in progress at the stop differs between the two.)
    // (Counted before the stop, which fails whatever cycle is in flight.)
    expect(counts.healthyFailed).toBe(0);
    expect(counts.healthy).toBeGreaterThanOrEqual(counts.control - 2);
    // The dead device is backed off (1 s, doubling, jittered +-20 %): without backoff it would be
    // sent one request per cycle, as many as the control's cycles in the same run (~15); with it,
    // a handful (~3). Its first unanswered request abandons the rest of its cycle (1 of 2 blocks).
    expect(dc.deadRequests).toBeGreaterThanOrEqual(1);
    expect(dc.deadRequests, `dead requests vs control cycles ${counts.control}`).toBeLessThanOrEqual(counts.control / 2);
    // Request n+1 was queued no sooner than the n-th backoff (at least 800 * 2^(n-1) ms) after
    // request n, on the gateway's monotonic clock: a lower bound that a slow machine only widens.
    // (Recording starts after the gateway started: if the first request came before, the recorded
    // index is one lower than the real one, which only lowers the bound.)
    const at = sharedReads.filter((r) => r.device === 'dead').map((r) => r.at);
    expect(at.length).toBeGreaterThanOrEqual(dc.deadRequests - 1);
    at.slice(1).forEach((t, n) => expect(t - at[n]!, `backoff before request ${n + 2}`).toBeGreaterThanOrEqual(800 * 2 ** n));
    expect(dc.deadRequests).toBe(dc.deadPolls);
    expect(dc.ignored).toBe(dc.deadRequests);
    expect(dc.timeouts).toBe(dc.deadRequests);
  });
});
