import { expect } from 'vitest';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { storeFeature } from '../../runtime/store/feature.js';
import type { Store } from '../../runtime/store/store.js';
import { uplinkFeature } from '../../runtime/uplink/feature.js';
import type { Uplink } from '../../runtime/uplink/uplink.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { Receiver } from '../../tools/receiver/receiver.js';
import { waitFor } from '../helpers/peers.js';
import { acceleratedClock, syntheticConfig, syntheticFeature } from './synthetic.js';

export interface TestGateway {
  gw: Gateway;
  store: Store;
  uplink: Uplink | undefined;
  synth: ReturnType<typeof syntheticFeature>;
}

/** A gateway with the store, the uplink and a synthetic reading source; its clock runs 60x (1 s = 1 min). */
export async function startGateway(opts: {
  dataDir: string;
  url?: string;
  config?: Partial<SiteConfig>;
  devices?: number;
  points?: number;
  intervalMs?: number;
}): Promise<TestGateway> {
  const synth = syntheticFeature({ devices: opts.devices ?? 3, points: opts.points ?? 4, intervalMs: opts.intervalMs ?? 100 });
  const gw = new Gateway({
    config: syntheticConfig({
      store: { flushIntervalMs: 200, closeGraceMs: 500, statsIntervalMs: 0 },
      uplink: { publishTimeoutMs: 2000, reconnect: { minMs: 100, maxMs: 1000 }, batchMaxRecords: 50 },
      ...opts.config,
    }),
    profiles: new Map(),
    logger: silentLogger(),
    options: { dataDir: opts.dataDir, uplinkUrl: opts.url, clock: acceleratedClock(60) },
    features: [storeFeature, uplinkFeature, synth],
  });
  await gw.start();
  return { gw, store: gw.ctx.services.get('store') as Store, uplink: gw.ctx.services.get('uplink') as Uplink | undefined, synth };
}

/** Stop producing, flush, and wait until the outbox is empty (everything acknowledged). */
export async function drain(t: TestGateway, timeoutMs = 60_000): Promise<void> {
  t.synth.paused = true;
  t.store.flush(t.gw.ctx.clock.now() + 10 * 60_000); // close every open bucket
  await waitFor(() => t.store.outboxStats().records === 0, timeoutMs, 'outbox drained');
}

/** The receiver holds seq 1..lastSeq of every stream the gateway produced: no gap, nothing invalid. */
export async function expectComplete(receiver: Receiver, lastSeqs: Record<string, number>, gateway = 'gw1'): Promise<void> {
  for (const [stream, last] of Object.entries(lastSeqs)) {
    await waitFor(() => receiver.count(gateway, stream) >= last, 30_000, `receiver has ${last} ${stream} records`);
    const seqs = receiver.seqs(gateway, stream);
    expect(seqs.length).toBe(last);
    expect(seqs[0]).toBe(1);
    expect(seqs[seqs.length - 1]).toBe(last);
  }
  for (const g of receiver.gaps()) expect(g.missing).toEqual([]);
  const s = receiver.stats();
  expect(s.invalidMessages).toBe(0);
  expect(s.invalidRecords).toBe(0);
}

export function lastSeqs(store: Store): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of store.streams()) out[s] = store.lastSeq(s);
  return out;
}

export async function startReceiver(url: string, db?: string, extra: Partial<ConstructorParameters<typeof Receiver>[0]> = {}): Promise<Receiver> {
  const r = new Receiver({ url, db, clientId: `rx-${Math.random().toString(16).slice(2, 10)}`, ...extra });
  await r.start();
  return r;
}
