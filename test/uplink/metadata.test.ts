/**
 * Cloud metadata over MQTT against a real broker (aedes on loopback): a gateway polling the demo
 * site's simulators (Modbus TCP on loopback) publishes its retained metadata, each device's
 * availability (online, then offline when the devices stop answering), Home Assistant discovery
 * configs, and device states with the string points (manufacturer, serial) as text.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { loadContract } from '../../runtime/uplink/contract.js';
import { FEATURES } from '../../tools/cli/features.js';
import { validateSiteConfig } from '../../tools/cli/site.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { DEMO_DEVICES } from '../../tools/simulator/demo-site.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite } from '../../tools/simulator/site.js';
import { waitFor } from '../helpers/peers.js';
import { AedesBroker } from './aedes-broker.js';

const contract = loadContract();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-metadata-'));
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Msg {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A client subscribed to `filter` collecting every message (with its retain flag). */
async function listen(url: string, filter: string): Promise<{ client: MqttClient; msgs: Msg[] }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0 });
  cleanups.push(() => new Promise<void>((r) => client.end(true, {}, () => r())));
  const msgs: Msg[] = [];
  client.on('message', (topic, payload, packet) => msgs.push({ topic, payload: payload.toString('utf8'), retain: !!packet.retain }));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    client.once('error', reject);
  });
  return { client, msgs };
}

const last = (msgs: Msg[], topic: string) => msgs.filter((m) => m.topic === topic).at(-1);

describe('metadata, availability and Home Assistant discovery over MQTT (aedes)', () => {
  it('retained metadata and availability per device; HA configs; string points as text', async () => {
    const broker = await AedesBroker.start();
    cleanups.push(() => broker.close());
    const { profiles } = validateSiteConfig(demoSiteConfig({ tcpPort: 1502 }), 'demo.yaml');
    const sim = new SimulatedSite({ profiles });
    const server = await SimulatorServer.start({ tcp: { port: 0, host: '127.0.0.1' }, devices: sim.devices, logger: silentLogger() });
    let serverClosed = false;
    cleanups.push(async () => {
      sim.stop();
      if (!serverClosed) await server.close();
    });
    sim.start();
    const base = demoSiteConfig({ tcpPort: server.tcpPort! });
    const config = { ...base, uplink: { url: broker.url, homeAssistant: { enabled: true } } };
    const site = validateSiteConfig(config, 'demo.yaml');
    const gw = new Gateway({ config: site.config, profiles: site.profiles, logger: silentLogger(), options: { dataDir: path.join(dir, 'data') }, features: FEATURES });
    cleanups.push(() => gw.stop());
    const live = await listen(broker.url, '#');
    await gw.start();

    const prefix = 'carbonedge/demo-factory/demo-gateway';
    const availability = (d: string) => last(live.msgs, `${prefix}/device/${d}/availability`);
    await waitFor(() => DEMO_DEVICES.every((d) => availability(d)) && !!last(live.msgs, `${prefix}/device/pv/state`), 20_000, 'availability of every device and the pv state');

    // A client that connects now gets the retained messages from the broker, flagged retained.
    const late = await listen(broker.url, `${prefix}/#`);
    const haLate = await listen(broker.url, 'homeassistant/#');
    await waitFor(() => !!last(late.msgs, `${prefix}/metadata`) && DEMO_DEVICES.every((d) => last(late.msgs, `${prefix}/device/${d}/availability`)), 10_000, 'retained messages');
    const metaMsg = last(late.msgs, `${prefix}/metadata`)!;
    expect(metaMsg.retain).toBe(true);
    const meta = JSON.parse(metaMsg.payload) as { devices: { id: string; profile: { id: string; version: number }; points: { id: string; canonical?: string; unit?: string; type: string }[] }[] };
    expect(contract.metadata(meta), JSON.stringify(contract.metadata.errors)).toBe(true);
    expect(meta).toMatchObject({ schemaVersion: 1, site: 'demo-factory', gateway: 'demo-gateway', timezone: base.site.timezone });
    expect(meta.devices.map((d) => d.id)).toEqual(base.devices.map((d) => d.id));
    const grid = meta.devices.find((d) => d.id === 'grid')!;
    expect(grid.profile).toMatchObject({ id: 'eastron-sdm630', version: profiles.get('eastron-sdm630')!.version });
    expect(grid.points.find((p) => p.id === 'active_power')).toMatchObject({ canonical: 'active_power', unit: 'W', type: 'number' });
    expect(grid.points.find((p) => p.id === 'energy_import')).toMatchObject({ canonical: 'energy_import', unit: 'kWh' });
    const pv = meta.devices.find((d) => d.id === 'pv')!;
    expect(pv.points.find((p) => p.id === 'serial_number')).toMatchObject({ type: 'string' });

    for (const d of DEMO_DEVICES) {
      const m = last(late.msgs, `${prefix}/device/${d}/availability`)!;
      expect(m.retain, d).toBe(true);
      const a = JSON.parse(m.payload) as Record<string, unknown>;
      expect(contract.availability(a), JSON.stringify(contract.availability.errors)).toBe(true);
      expect(a).toMatchObject({ device: d, state: 'online' });
    }

    // string points as text, numbers as numbers (the state Home Assistant reads)
    const pvState = JSON.parse(last(live.msgs, `${prefix}/device/pv/state`)!.payload) as Record<string, unknown>;
    expect(pvState.manufacturer).toBe('carbonedge');
    expect(pvState.serial_number).toBe('DEMO-PV-0001');
    expect(typeof pvState.active_power).toBe('number');

    // Home Assistant discovery: retained sensor configs for power and energy
    const node = 'carbonedge_demo_factory_demo_gateway';
    const haTopic = (object: string) => `homeassistant/sensor/${node}/${object}/config`;
    await waitFor(() => ['grid_active_power', 'grid_energy_import'].every((o) => haLate.msgs.some((m) => m.topic === haTopic(o))), 10_000, 'discovery configs');
    const power = haLate.msgs.find((m) => m.topic === `homeassistant/sensor/${node}/grid_active_power/config`)!;
    const energy = haLate.msgs.find((m) => m.topic === `homeassistant/sensor/${node}/grid_energy_import/config`)!;
    expect(power.retain).toBe(true);
    expect(JSON.parse(power.payload)).toMatchObject({
      unique_id: `${node}_grid_active_power`,
      state_topic: `${prefix}/device/grid/state`,
      value_template: '{{ value_json.active_power }}',
      device_class: 'power',
      state_class: 'measurement',
      unit_of_measurement: 'W',
      availability_mode: 'all',
      device: { manufacturer: 'Eastron', identifiers: [`${node}_grid`] },
    });
    expect(JSON.parse(energy.payload)).toMatchObject({ device_class: 'energy', state_class: 'total_increasing', unit_of_measurement: 'kWh' });
    expect(JSON.parse(power.payload).availability).toEqual([
      { topic: `${prefix}/status`, value_template: '{{ value_json.state }}' },
      { topic: `${prefix}/device/grid/availability`, value_template: '{{ value_json.state }}' },
    ]);
    // no sensor for a string point
    expect(haLate.msgs.some((m) => m.topic.includes('serial_number'))).toBe(false);

    // the devices stop answering: each goes offline, once, with the reason
    sim.stop();
    await server.close();
    serverClosed = true;
    await waitFor(() => DEMO_DEVICES.every((d) => JSON.parse(availability(d)!.payload).state === 'offline'), 30_000, 'every device offline');
    const off = JSON.parse(availability('grid')!.payload) as Record<string, unknown>;
    expect(contract.availability(off)).toBe(true);
    expect(typeof off.reason).toBe('string');
    expect(live.msgs.filter((m) => m.topic === `${prefix}/device/grid/availability` && JSON.parse(m.payload).state === 'offline')).toHaveLength(1);
  }, 60_000);
});
