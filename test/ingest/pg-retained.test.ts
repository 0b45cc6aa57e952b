import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { contractDir } from '../../runtime/uplink/contract.js';
import { havePeer, waitFor } from '../helpers/peers.js';
import { havePostgres } from '../helpers/postgres.js';
import { ingestSuite, q } from './harness.js';

/** `carbonedge receive --pg` and the retained messages of contract 1.3: `<prefix>/metadata` and `<prefix>/device/<id>/availability`. */
const run = havePeer('mosquitto') && havePostgres();

const suite = ingestSuite(run);
const { publish } = suite;
const ingest = async (db: string) => (await suite.ingest({ pg: db })).ingest;
const example = (n: string) => JSON.parse(fs.readFileSync(path.join(contractDir(), 'examples', `${n}.json`), 'utf8')) as Record<string, unknown>;

/** The example metadata for `gateway` at `ts` (devices renamed by `suffix`). */
function metadata(gateway: string, ts: number, suffix = ''): { topic: string; payload: string } {
  const m = example('metadata') as { devices: { id: string }[] };
  return {
    topic: `carbonedge/demo-factory/${gateway}/metadata`,
    payload: JSON.stringify({ ...m, gateway, ts, devices: m.devices.map((d) => ({ ...d, id: `${d.id}${suffix}` })) }),
  };
}

function availability(gateway: string, device: string, state: 'online' | 'offline', ts: number, reason?: string): { topic: string; payload: string } {
  return {
    topic: `carbonedge/demo-factory/${gateway}/device/${device}/availability`,
    payload: JSON.stringify({ schemaVersion: 1, site: 'demo-factory', gateway, device, state, ts, ...(reason === undefined ? {} : { reason }) }),
  };
}

const metaRow = async (db: string, gateway: string) => (await q<{ ts: Date; site: string; body: { devices: { id: string }[] } }>(db, 'SELECT ts, site, body FROM carbonedge_metadata WHERE gateway = $1', [gateway]))[0];
const availRows = (db: string, gateway: string) =>
  q<{ device: string; state: string; reason: string | null; ts: Date }>(db, 'SELECT device, state, reason, ts FROM carbonedge_device_availability WHERE gateway = $1 ORDER BY device', [gateway]);

describe.runIf(run)('carbonedge receive --pg: retained metadata and device availability', () => {
  it('metadata: retained before the receiver starts is stored, a newer one replaces it, an older one redelivered does not; the points view gives units', async () => {
    const db = await suite.database();
    await publish([{ ...metadata('gw-meta', 1_000), retain: true }]);
    const rx = await ingest(db);
    await waitFor(async () => (await metaRow(db, 'gw-meta')) !== undefined, 20_000, 'retained metadata');
    expect((await metaRow(db, 'gw-meta'))!.ts.getTime()).toBe(1_000);
    await publish([metadata('gw-meta', 3_000, '-b')]);
    await waitFor(async () => (await metaRow(db, 'gw-meta'))!.ts.getTime() === 3_000, 20_000, 'newer metadata');
    // The older one again (a redelivery), then a marker: once the marker is stored, the old one was handled.
    await publish([metadata('gw-meta', 2_000, '-old'), availability('gw-meta', 'marker', 'online', 1)]);
    await waitFor(async () => (await availRows(db, 'gw-meta')).length === 1, 20_000, 'marker');
    const row = (await metaRow(db, 'gw-meta'))!;
    expect(row.ts.getTime()).toBe(3_000);
    expect(row.body.devices.map((d) => d.id)).toEqual(['grid-b', 'pv-b', 'revenue-b']);
    const points = await q(db, "SELECT device, profile, point, unit, canonical FROM carbonedge_device_points WHERE gateway = 'gw-meta' ORDER BY device, point");
    expect(points).toEqual([
      { device: 'grid-b', profile: 'eastron-sdm630', point: 'active_power', unit: 'W', canonical: 'active_power' },
      { device: 'grid-b', profile: 'eastron-sdm630', point: 'energy_import', unit: 'kWh', canonical: 'energy_import' },
      { device: 'pv-b', profile: 'sunspec-inverter-103', point: 'active_power', unit: 'W', canonical: 'active_power' },
      { device: 'pv-b', profile: 'sunspec-inverter-103', point: 'manufacturer', unit: null, canonical: null },
      { device: 'pv-b', profile: 'sunspec-inverter-103', point: 'serial_number', unit: null, canonical: null },
      { device: 'revenue-b', profile: 'dlt645-2007', point: 'energy_import', unit: 'kWh', canonical: 'energy_import' },
    ]);
    await waitFor(() => rx.stats().unacked === 0, 10_000, 'all acknowledged');
    expect(rx.stats().rejected).toBe(0);
  }, 60_000);

  it('availability: online then offline with its reason; an older message redelivered after the newer one does not win', async () => {
    const db = await suite.database();
    const rx = await ingest(db);
    await publish([availability('gw-av', 'pv', 'online', 10_000), availability('gw-av', 'grid', 'online', 10_000)]);
    await waitFor(async () => (await availRows(db, 'gw-av')).length === 2, 20_000, 'online');
    expect((await availRows(db, 'gw-av')).map((r) => [r.device, r.state, r.reason])).toEqual([['grid', 'online', null], ['pv', 'online', null]]);
    await publish([availability('gw-av', 'pv', 'offline', 20_000, 'Timed out after 1000 ms')]);
    await waitFor(async () => (await availRows(db, 'gw-av')).some((r) => r.state === 'offline'), 20_000, 'offline');
    // The old online (ts 10 000) redelivered, and in the same flight the grid's newer offline as the marker.
    await publish([availability('gw-av', 'pv', 'online', 10_000), availability('gw-av', 'grid', 'offline', 30_000, 'stale')]);
    await waitFor(async () => (await availRows(db, 'gw-av')).every((r) => r.state === 'offline'), 20_000, 'marker');
    expect((await availRows(db, 'gw-av')).map((r) => [r.device, r.state, r.reason, r.ts.getTime()])).toEqual([
      ['grid', 'offline', 'stale', 30_000],
      ['pv', 'offline', 'Timed out after 1000 ms', 20_000],
    ]);
    await waitFor(() => rx.stats().unacked === 0, 10_000, 'all acknowledged');
  }, 60_000);

  it('an invalid metadata or availability goes to carbonedge_rejected with its reason, is acknowledged, and ingest continues', async () => {
    const db = await suite.database();
    const rx = await ingest(db);
    const bad = JSON.parse(metadata('gw-bad', 5_000).payload) as Record<string, unknown>;
    await publish([
      { topic: 'carbonedge/demo-factory/gw-bad/metadata', payload: JSON.stringify({ ...bad, devices: [{ id: 'x' }] }) },
      { topic: 'carbonedge/demo-factory/gw-bad/metadata', payload: 'not JSON' },
      { topic: 'carbonedge/demo-factory/gw-bad/device/pv/availability', payload: availability('gw-bad', 'grid', 'online', 1).payload },
      metadata('gw-bad', 6_000),
      availability('gw-bad', 'pv', 'online', 7_000),
    ]);
    await waitFor(async () => (await availRows(db, 'gw-bad')).length === 1 && (await metaRow(db, 'gw-bad')) !== undefined, 20_000, 'the good messages');
    const reasons = (await q<{ reason: string; topic: string }>(db, 'SELECT topic, reason FROM carbonedge_rejected ORDER BY reason')).map((r) => `${r.topic}: ${r.reason}`);
    expect(reasons).toHaveLength(3);
    expect(reasons[0]).toMatch(/^carbonedge\/demo-factory\/gw-bad\/device\/pv\/availability: availability device 'grid' does not match the topic's 'pv'$/);
    expect(reasons[1]).toMatch(/^carbonedge\/demo-factory\/gw-bad\/metadata: metadata: .*required/);
    expect(reasons[2]).toMatch(/^carbonedge\/demo-factory\/gw-bad\/metadata: not JSON/);
    expect((await metaRow(db, 'gw-bad'))!.ts.getTime()).toBe(6_000);
    await waitFor(() => rx.stats().unacked === 0, 10_000, 'all acknowledged');
    expect(rx.stats().rejected).toBe(3);
  }, 60_000);
});
