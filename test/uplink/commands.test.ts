/**
 * MQTT command channel end to end against aedes: a command published on `<prefix>/cmd/<name>`
 * reaches the part it addresses in a running gateway (the rule engine's override reaches the
 * simulated device over Modbus TCP; an instrument reaches accounting) and is answered on
 * `<prefix>/cmd/<name>/response`; malformed commands get error answers and change nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import type { Uplink } from '../../runtime/uplink/uplink.js';
import type { RulesService } from '../../rules/feature.js';
import type { AccountingService } from '../../runtime/accounting/feature.js';
import { loadContract } from '../../runtime/uplink/contract.js';
import { CommandRouter, type CommandResponse } from '../../runtime/uplink/commands.js';
import { CommandRegistry } from '../../runtime/feature-api.js';
import { instrumentsCommand } from '../../runtime/accounting/feature.js';
import { rulesCommand } from '../../rules/commands.js';
import { FEATURES } from '../../tools/cli/features.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite } from '../../tools/simulator/site.js';
import type { Receiver } from '../../tools/receiver/receiver.js';
import { waitFor } from '../helpers/peers.js';
import { AedesBroker } from './aedes-broker.js';
import { startReceiver } from './scenarios.js';
import { UPLINK } from '../../runtime/uplink/feature.js';
import { RULES } from '../../rules/feature.js';
import { ACCOUNTING } from '../../runtime/accounting/feature.js';
import { STORE } from '../../runtime/store/feature.js';

const { profiles } = loadBuiltinProfiles();
const contract = loadContract();
const NOON = Date.UTC(2026, 5, 15, 10, 30);
const PREFIX = 'carbonedge/demo-factory/demo-gateway';

let broker: AedesBroker;
let sim: SimulatedSite;
let server: SimulatorServer;
let gw: Gateway;
let cloud: MqttClient;
let rx: Receiver;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-cmd-'));
const responses: { topic: string; body: CommandResponse }[] = [];

/** Publish a command as the cloud would and wait for the next answer on its response topic. */
async function command(name: string, payload: string | Record<string, unknown>, opts: { retain?: boolean } = {}): Promise<CommandResponse> {
  const topic = `${PREFIX}/cmd/${name}/response`;
  const before = responses.filter((r) => r.topic === topic).length;
  await cloud.publishAsync(`${PREFIX}/cmd/${name}`, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, retain: !!opts.retain });
  await waitFor(() => responses.filter((r) => r.topic === topic).length > before, 20_000, `answer on ${topic}`);
  return responses.filter((r) => r.topic === topic)[before]!.body;
}

beforeAll(async () => {
  broker = await AedesBroker.start();
  sim = new SimulatedSite({ profiles, site: { seed: 3, startMs: NOON } });
  server = await SimulatorServer.start({ tcp: { port: 0 }, devices: sim.devices });
  const base = demoSiteConfig({ tcpPort: server.tcpPort! });
  const config: SiteConfig = {
    ...base,
    devices: base.devices.map((d) => ({ ...d, pollIntervalMs: 300 })),
    control: { tickMs: 300, onExit: 'hold' },
    // One rule: the flexible load runs whenever the grid is there.
    rules: [{ id: 'load-on', kind: 'switch', output: 'load.relay', when: 'grid.frequency > 40', safe: 'off' }],
    store: { statsIntervalMs: 0 },
  };
  rx = await startReceiver(broker.url);
  // The cloud: listens to the answers and to the gateway's retained status.
  // Persistent session: answers published while it reconnects (broker restart test) are queued for it.
  cloud = await mqtt.connectAsync(broker.url, { clientId: 'cloud-test', clean: false, reconnectPeriod: 200 });
  cloud.on('message', (topic, payload) => {
    if (topic.endsWith('/response')) responses.push({ topic, body: JSON.parse(payload.toString('utf8')) as CommandResponse });
  });
  let online = false;
  cloud.on('message', (topic, payload) => {
    if (topic === `${PREFIX}/status`) online = (JSON.parse(payload.toString('utf8')) as { state: string }).state === 'online';
  });
  await cloud.subscribeAsync([`${PREFIX}/cmd/+/response`, `${PREFIX}/status`], { qos: 1 });
  gw = new Gateway({ config, profiles, logger: silentLogger(), options: { dataDir: dir, uplinkUrl: broker.url }, features: FEATURES });
  await gw.start();
  // `online` is published once the gateway's command subscription is acknowledged.
  await waitFor(() => online, 20_000, 'gateway online');
  expect(gw.ctx.services.get(UPLINK)!.health().commands.subscribed).toBe(true);
});

afterAll(async () => {
  await gw?.stop();
  await cloud?.endAsync();
  await rx?.stop();
  rx?.close();
  await server?.close();
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('MQTT commands (aedes, running gateway, simulated demo site over Modbus TCP)', () => {
  it('an override sent over MQTT reaches the rule engine and the device; clearing it hands the output back to the rule', async () => {
    const rules = gw.ctx.services.get(RULES)!;
    await waitFor(() => sim.site.values('load').relay === true, 20_000, 'the rule switched the load on');
    const res = await command('rules', { type: 'override', output: 'load.relay', value: false, forS: 600, reason: 'grid operator request', by: 'vpp', transaction: 'ovr-1' });
    expect(res).toMatchObject({ schemaVersion: 1, status: 'ok', transaction: 'ovr-1' });
    expect((res.data as { overrides: unknown[] }).overrides).toEqual([expect.objectContaining({ output: 'load.relay', value: false, by: 'vpp' })]);
    expect(rules.overrides.list(gw.ctx.clock.now())).toEqual([expect.objectContaining({ output: 'load.relay', value: false })]);
    // Observed at the simulated device, written through the gate and logged as the override's decision.
    await waitFor(() => sim.site.values('load').relay === false, 20_000, 'override written to the device');
    await waitFor(() => rx.records('demo-gateway', 'decision').some((d) => d.rule === 'override:vpp'), 20_000, 'decision on the uplink');
    expect(rx.records('demo-gateway', 'decision').find((d) => d.rule === 'override:vpp')).toMatchObject({ device: 'load', point: 'relay', value: false, status: 'verified' });
    // The same transaction again (a QoS 1 redelivery or a retry): answered again, not applied twice.
    const again = await command('rules', { type: 'override', output: 'load.relay', value: false, forS: 600, reason: 'grid operator request', by: 'vpp', transaction: 'ovr-1' });
    expect(again).toEqual(res);
    expect(gw.ctx.services.get(UPLINK)!.health().commands).toMatchObject({ received: 2, ok: 1 }); // applied once
    const clear = await command('rules', { type: 'clear-override', output: 'load.relay', transaction: 2 });
    expect(clear).toMatchObject({ status: 'ok', transaction: 2, data: { overrides: [] } });
    await waitFor(() => sim.site.values('load').relay === true, 20_000, 'the rule takes over again');
  });

  it('pushed carbon intensity and price reach the rule engine', async () => {
    const res = await command('rules', { type: 'carbon-intensity', value: 321, validForS: 600, transaction: 'ci' });
    expect(res).toMatchObject({ status: 'ok', transaction: 'ci', data: { type: 'carbon-intensity', value: 321 } });
    expect(await command('rules', { type: 'price', value: 0.31 })).toMatchObject({ status: 'ok', data: { type: 'price', value: 0.31 } });
  });

  it('malformed and refused commands get error answers, change nothing and never stop the gateway', async () => {
    const rules = gw.ctx.services.get(RULES)!;
    const writes = { ...sim.site.writeCount };
    const notJson = await command('rules', '{"type": "override", ');
    expect(notJson).toMatchObject({ schemaVersion: 1, status: 'error', error: expect.stringMatching(/not JSON/) });
    expect(notJson.transaction).toBeUndefined();
    expect(await command('rules', '[1, 2]')).toMatchObject({ status: 'error', error: 'payload must be a JSON object' });
    // Schema: forS over 7 days, a field that does not belong to the type; the transaction is echoed.
    const tooLong = await command('rules', { type: 'override', output: 'load.relay', value: false, forS: 1e9, transaction: 't-long' });
    expect(tooLong).toMatchObject({ status: 'error', transaction: 't-long', error: expect.stringMatching(/invalid rules command: \/forS must be <= 604800/) });
    expect(await command('rules', { type: 'price', value: 1, output: 'load.relay' })).toMatchObject({ status: 'error', error: expect.stringMatching(/propertyNames|property name/) });
    expect(await command('rules', { type: 'reboot' })).toMatchObject({ status: 'error', error: expect.stringMatching(/\/type must be equal to one of the allowed values/) });
    // Valid shape, refused by the rule engine itself (semantic checks).
    expect(await command('rules', { type: 'override', output: 'nope.relay', value: true, forS: 60, transaction: 'x' })).toMatchObject({
      status: 'error',
      transaction: 'x',
      error: expect.stringMatching(/^override: /),
    });
    expect(await command('rules', { type: 'override', output: 'grid.active_power', value: 1, forS: 60 })).toMatchObject({ status: 'error', error: expect.stringMatching(/read-only/) });
    // An unknown command name.
    expect(await command('reboot', { now: true })).toMatchObject({ status: 'error', error: "unknown command 'reboot' (this gateway accepts: instruments, rules)" });
    // A payload over the size limit.
    expect(await command('rules', JSON.stringify({ type: 'price', value: 1, reason: 'x'.repeat(70_000) }))).toMatchObject({ status: 'error', error: expect.stringMatching(/larger than/) });
    // Nothing changed, and the gateway still takes a good command.
    expect(rules.overrides.list(gw.ctx.clock.now())).toEqual([]);
    expect(sim.site.writeCount).toEqual(writes);
    expect(await command('rules', { type: 'clear-override', output: 'heatpump' })).toMatchObject({ status: 'ok' });
    const h = gw.ctx.services.get(UPLINK)!.health();
    expect(h.connected).toBe(true);
    expect(h.commands.error).toBe(9); // one per refused command above
  });

  it('a contractual instrument sent over MQTT is recorded by accounting, idempotently; one without evidence is refused', async () => {
    const acct = gw.ctx.services.get(ACCOUNTING)!;
    const ins = { type: 'GEC', MWh: 2, serials: ['GEC2026000001..GEC2026000002'], vintage: 2026 };
    expect(await command('instruments', { type: 'add', instrument: ins, transaction: 'i1' })).toMatchObject({ status: 'ok', transaction: 'i1', data: { added: true } });
    const store = gw.ctx.services.get(STORE)!;
    expect(store.db.prepare('SELECT count(*) FROM acct_instrument').pluck().get()).toBe(1);
    expect(await command('instruments', { type: 'add', instrument: ins })).toMatchObject({ status: 'ok', data: { added: false } });
    expect(store.db.prepare('SELECT count(*) FROM acct_instrument').pluck().get()).toBe(1);
    const noEvidence = await command('instruments', { type: 'add', instrument: { type: 'PPA', MWh: 5 }, transaction: 'i2' });
    expect(noEvidence).toMatchObject({ status: 'error', transaction: 'i2', error: expect.stringMatching(/missing evidence/) });
    expect(await command('instruments', { type: 'add', instrument: { type: 'GEC', MWh: -1 } })).toMatchObject({ status: 'error', error: expect.stringMatching(/\/instrument\/MWh must be > 0/) });
    expect(store.db.prepare('SELECT count(*) FROM acct_instrument').pluck().get()).toBe(1);
    expect(acct.engine).toBeDefined();
  });

  it('a retained command is not applied again when the gateway reconnects (the broker re-delivers it with the retain flag)', async () => {
    const rules = gw.ctx.services.get(RULES)!;
    const uplink = gw.ctx.services.get(UPLINK)!;
    const cmd = { type: 'override', output: 'heatpump', value: 'sg2-normal', forS: 600, by: 'retained', transaction: 'ret' };
    // First delivery: to an established subscription (MQTT 3.1.1 clears the retain flag then), whatever the answer.
    await command('rules', cmd, { retain: true });
    expect(await command('rules', { type: 'clear-override', output: 'heatpump' })).toMatchObject({ status: 'ok' });
    const connects = uplink.health().connects;
    // Broker restart: the gateway reconnects, subscribes again and gets the retained message.
    const before = responses.length;
    await broker.pause();
    await broker.listen();
    await waitFor(() => uplink.health().connects > connects && uplink.health().commands.subscribed, 20_000, 'gateway reconnected');
    await waitFor(() => responses.slice(before).some((r) => r.body.transaction === 'ret'), 20_000, 'answer to the re-delivered retained command');
    expect(responses.slice(before).find((r) => r.body.transaction === 'ret')!.body).toMatchObject({ status: 'error', error: expect.stringMatching(/retained command ignored/) });
    expect(rules.overrides.list(gw.ctx.clock.now())).toEqual([]);
    // Clear the retained message (empty retained payload).
    await cloud.publishAsync(`${PREFIX}/cmd/rules`, '', { qos: 1, retain: true });
  });

  it('every answer the gateway published validates against the contract (checked by the reference receiver)', async () => {
    await waitFor(() => rx.stats().commandResponses >= responses.length, 20_000, 'receiver saw every answer');
    expect(rx.stats().invalidMessages).toBe(0);
    for (const r of responses) expect(contract.commandResponse(r.body), JSON.stringify(contract.commandResponse.errors)).toBe(true);
  });
});

describe('CommandRouter without a broker', () => {
  it('answers a part that is not running with an error, and a part that throws with an error', async () => {
    // What the rules and accounting features register when they are off.
    let registry = new CommandRegistry();
    registry.register(rulesCommand(undefined, { now: () => NOON }));
    registry.register(instrumentsCommand(undefined));
    let router = new CommandRouter(registry, contract);
    expect(await router.handle('rules', Buffer.from('{"type":"price","value":1}'))).toMatchObject({ status: 'error', error: /rule engine is not running/ });
    expect(await router.handle('instruments', Buffer.from('{"type":"add","instrument":{"type":"GEC","MWh":1,"evidence":"x"}}'))).toMatchObject({
      status: 'error',
      error: /accounting is not enabled/,
    });
    expect(router.counts).toMatchObject({ received: 2, ok: 0, error: 2 });
    registry = new CommandRegistry();
    registry.register(
      rulesCommand(
        {
          command() {
            throw new Error('database is locked');
          },
          overrides: { list: () => [] },
        },
        { now: () => NOON },
      ),
    );
    router = new CommandRouter(registry, contract);
    expect(await router.handle('rules', Buffer.from('{"type":"price","value":1,"transaction":7}'))).toEqual({
      schemaVersion: 1,
      status: 'error',
      error: 'rules command failed: database is locked',
      transaction: 7,
    });
    expect(router.counts).toMatchObject({ received: 1, ok: 0, error: 1 });
  });
});
