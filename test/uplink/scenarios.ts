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
import { STORE } from '../../runtime/store/feature.js';
import { UPLINK } from '../../runtime/uplink/feature.js';

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
  return { gw, store: gw.ctx.services.get(STORE)!, uplink: gw.ctx.services.get(UPLINK), synth };
}

/** Stop producing, flush, and wait until the outbox is empty (everything acknowledged). */
export async function drain(t: TestGateway, timeoutMs = 60_000): Promise<void> {
  t.synth.paused = true;
  t.store.flush(t.gw.ctx.clock.now() + 10 * 60_000); // close every open bucket
  await waitFor(() => t.store.outbox.outboxStats().records === 0, timeoutMs, 'outbox drained');
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
  for (const s of store.outbox.streams()) out[s] = store.outbox.lastSeq(s);
  return out;
}

export async function startReceiver(url: string, db?: string, extra: Partial<ConstructorParameters<typeof Receiver>[0]> = {}): Promise<Receiver> {
  const r = new Receiver({ url, db, clientId: `rx-${Math.random().toString(16).slice(2, 10)}`, ...extra });
  await r.start();
  return r;
}

/**
 * Gateway in a child process killed with SIGKILL while it publishes, then restarted on the same
 * data directory: the receiver ends with every record, no gap (duplicates dropped by id).
 */
export async function sigkillScenario(url: string, rx: Receiver, dataDir: string): Promise<{ duplicates: number }> {
  const { ChildGateway, readChildStore, assertBuilt } = await import('./child-gateway.js');
  assertBuilt();
  const t0 = Date.now();
  let child = await ChildGateway.start(dataDir, url, t0);
  try {
    await waitFor(() => rx.count('gw1', 'readings-1m') >= 80, 30_000, 'records flowing before the kill');
    await child.kill9();
    expect(readChildStore(dataDir).lastSeqs['readings-1m']).toBeGreaterThan(0);
    // The broker published the gateway's Will: retained status offline.
    await waitFor(() => rx.statuses().some((s) => s.gateway === 'gw1' && s.state === 'offline'), 30_000, 'Will (offline) after SIGKILL');
    const atKill = rx.count('gw1', 'readings-1m');
    // The restarted gateway's clock continues 10 h later (the downtime).
    child = await ChildGateway.start(dataDir, url, t0 + 10 * 3_600_000);
    await waitFor(() => rx.statuses().some((s) => s.gateway === 'gw1' && s.state === 'online'), 30_000, 'online again after the restart');
    await waitFor(() => rx.count('gw1', 'readings-1m') >= atKill + 80, 30_000, 'records flowing after the restart');
    await child.signal('SIGUSR2');
    await child.waitOutput('paused');
    await waitFor(() => readChildStore(dataDir).outbox === 0, 60_000, 'child outbox drained');
    const { lastSeqs } = readChildStore(dataDir);
    await expectComplete(rx, lastSeqs);
    // The first energy delta after the restart covers the downtime (about 10 h of counter increase).
    const recs = rx.records('gw1', 'readings-1m').filter((r) => r.device === 'dev0' && r.point === 'energy_import');
    const big = recs.filter((r) => (r.delta as number) > 5);
    expect(big.length).toBe(1);
    expect(big[0]!.delta as number).toBeGreaterThan(9);
    expect(big[0]!.delta as number).toBeLessThan(11);
  } finally {
    await child.signal('SIGTERM');
  }
  return { duplicates: rx.stats().duplicates };
}
