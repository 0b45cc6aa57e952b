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

/** A command as a contract v2 sender writes it: stamped with its issue time (unless it has one). */
const fresh = (cmd: Record<string, unknown>): Record<string, unknown> => ({ issuedAt: new Date().toISOString(), ...cmd });

/** Publish a command as the cloud would (objects stamped with `issuedAt`) and wait for the next answer on its response topic. */
async function command(name: string, payload: string | Record<string, unknown>, opts: { retain?: boolean } = {}): Promise<CommandResponse> {
  const topic = `${PREFIX}/cmd/${name}/response`;
  const before = responses.filter((r) => r.topic === topic).length;
  await cloud.publishAsync(`${PREFIX}/cmd/${name}`, typeof payload === 'string' ? payload : JSON.stringify(fresh(payload)), { qos: 1, retain: !!opts.retain });
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
    const ovr = fresh({ type: 'override', output: 'load.relay', value: false, forS: 600, reason: 'grid operator request', by: 'vpp', transaction: 'ovr-1' });
    const res = await command('rules', ovr);
    expect(res).toMatchObject({ schemaVersion: 1, status: 'ok', transaction: 'ovr-1' });
    expect((res.data as { overrides: unknown[] }).overrides).toEqual([expect.objectContaining({ output: 'load.relay', value: false, by: 'vpp' })]);
    expect(rules.overrides.list(gw.ctx.clock.now())).toEqual([expect.objectContaining({ output: 'load.relay', value: false })]);
    // Observed at the simulated device, written through the gate and logged as the override's decision.
    await waitFor(() => sim.site.values('load').relay === false, 20_000, 'override written to the device');
    await waitFor(() => rx.records('demo-gateway', 'decision').some((d) => d.rule === 'override:vpp'), 20_000, 'decision on the uplink');
    expect(rx.records('demo-gateway', 'decision').find((d) => d.rule === 'override:vpp')).toMatchObject({ device: 'load', point: 'relay', value: false, status: 'verified' });
    // The same transaction again (a QoS 1 redelivery or a retry): answered again, not applied twice.
    const again = await command('rules', ovr);
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

  it('a retired offset sent over MQTT (contract 1.3, add-offset) is recorded once; one without evidence is refused', async () => {
    const store = gw.ctx.services.get(STORE)!;
    const count = () => Number(store.db.prepare('SELECT count(*) FROM acct_offset').pluck().get());
    const offset = { type: 'CCER', tCO2: 500, vintage: 2023, project: 'CCER-1234', serials: ['CCER2023X000001..CCER2023X000500'], retiredOn: '2024-03-01', evidence: 'retirement record R-2024-0301' };
    expect(await command('instruments', { type: 'add-offset', offset, transaction: 'o1' })).toMatchObject({ status: 'ok', transaction: 'o1', data: { added: true } });
    expect(await command('instruments', { type: 'add-offset', offset })).toMatchObject({ status: 'ok', data: { added: false } });
    expect(count()).toBe(1);
    const bare = { type: 'VCS', tCO2: 10, vintage: 2023, project: 'VCS-981', retiredOn: '2024-03-01' };
    expect(await command('instruments', { type: 'add-offset', offset: bare })).toMatchObject({ status: 'error', error: expect.stringMatching(/missing evidence/) });
    expect(await command('instruments', { type: 'add-offset', instrument: offset })).toMatchObject({ status: 'error' });
    expect(count()).toBe(1);
  });

  it('a retained command is not applied again when the gateway reconnects (the broker re-delivers it with the retain flag)', async () => {
    const rules = gw.ctx.services.get(RULES)!;
    const uplink = gw.ctx.services.get(UPLINK)!;
    const cmd = fresh({ type: 'override', output: 'heatpump', value: 'sg2-normal', forS: 600, by: 'retained', transaction: 'ret' });
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
    expect(responses.slice(before).find((r) => r.body.transaction === 'ret')!.body).toMatchObject({ status: 'error', code: 'CE_CMD_RETAINED', error: expect.stringMatching(/retained command ignored/) });
    expect(rules.overrides.list(gw.ctx.clock.now())).toEqual([]);
    // Clear the retained message (empty retained payload): answered too, as an empty command.
    expect(await command('rules', '', { retain: true })).toMatchObject({ status: 'error', code: 'CE_CMD_EMPTY' });
  });

  it('an empty payload, an unknown type, a price of 1e308, an out-of-range override and unverifiable evidence each get an error answer with its code', async () => {
    const rules = gw.ctx.services.get(RULES)!;
    const store = gw.ctx.services.get(STORE)!;
    const instruments = () => Number(store.db.prepare('SELECT count(*) FROM acct_instrument').pluck().get());
    const writes = { ...sim.site.writeCount };
    const recorded = instruments();
    // Used to get no answer at all.
    expect(await command('rules', '')).toMatchObject({ status: 'error', code: 'CE_CMD_EMPTY', error: expect.stringMatching(/^empty payload/) });
    expect(await command('rules', { type: 'reboot' })).toMatchObject({
      status: 'error',
      code: 'CE_CMD_SCHEMA',
      error: expect.stringContaining('/type must be equal to one of the allowed values (allowed: override, clear-override, carbon-intensity, price)'),
    });
    for (const value of [1e308, -1e308]) {
      expect(await command('rules', { type: 'price', value }), String(value)).toMatchObject({ status: 'error', code: 'CE_CMD_SCHEMA', error: expect.stringMatching(/\/value must be [<>]= -?10000/) });
    }
    // Used to be answered ok, then to fail at every write for 10 minutes.
    expect(await command('rules', { type: 'override', output: 'battery.power_setpoint', value: 1e12, forS: 600, transaction: 'big' })).toEqual({
      schemaVersion: 1,
      status: 'error',
      code: 'CE_CMD_OUT_OF_RANGE',
      error: 'override: battery.power_setpoint = 1000000000000 is above the maximum 100000 W (profile carbonedge-battery: 0..100000 W)',
      transaction: 'big',
    });
    expect(rules.overrides.list(gw.ctx.clock.now())).toEqual([]);
    // Evidence that names nothing checkable is refused; a document reference with its number is accepted.
    for (const evidence of ['x', 'see the contract']) {
      expect(await command('instruments', { type: 'add', instrument: { type: 'PPA', MWh: 5, evidence } }), evidence).toMatchObject({
        status: 'error',
        code: 'CE_CMD_REFUSED',
        error: expect.stringMatching(/^instrument not recorded: \/instrument\/evidence: .*(too short|names no document number)/),
      });
    }
    expect(instruments()).toBe(recorded);
    expect(await command('instruments', { type: 'add', instrument: { type: 'PPA', MWh: 5, evidence: 'PPA contract SP-2026-07, settlement 2026-05' } })).toMatchObject({ status: 'ok', data: { added: true } });
    expect(instruments()).toBe(recorded + 1);
    expect(sim.site.writeCount).toEqual(writes);
  });

  it('every kind of answer validates against the contract, as published and as checked by the reference receiver', async () => {
    // Self-contained: the answers this test provokes, one of each kind, not those of earlier tests.
    const start = rx.stats();
    const mine: CommandResponse[] = [];
    const send = async (name: string, payload: string | Record<string, unknown>) => mine.push(await command(name, payload));
    await send('rules', { type: 'price', value: 0.2, validForS: 60, transaction: 'v-ok' });
    await send('rules', { type: 'clear-override', output: 'load.relay' });
    await send('instruments', { type: 'add', instrument: { type: 'GEC', MWh: 1, serials: ['GEC2026000900'] }, transaction: 'v-gec' });
    await send('rules', '');
    await send('rules', 'not json');
    await send('rules', { type: 'price' });
    await send('rules', { type: 'price', value: 1 , issuedAt: '2020-01-01T00:00:00Z' });
    await send('rules', JSON.stringify({ type: 'price', value: 1 }));
    await send('rules', { type: 'override', output: 'nope.relay', value: true, forS: 60, transaction: 'v-no' });
    await send('reboot', {});
    expect(mine.map((r) => r.code ?? r.status)).toEqual(['ok', 'ok', 'ok', 'CE_CMD_EMPTY', 'CE_CMD_NOT_JSON', 'CE_CMD_SCHEMA', 'CE_CMD_STALE', 'CE_CMD_NO_ISSUED_AT', 'CE_CMD_REFUSED', 'CE_CMD_UNKNOWN']);
    for (const r of mine) expect(contract.commandResponse(r), `${JSON.stringify(r)}: ${JSON.stringify(contract.commandResponse.errors)}`).toBe(true);
    await waitFor(() => rx.stats().commandResponses - start.commandResponses >= mine.length, 20_000, 'receiver saw every answer');
    const end = rx.stats();
    expect(end.commandResponses - start.commandResponses).toBe(mine.length);
    expect(end.invalidMessages).toBe(start.invalidMessages);
    expect((end.commandErrorCodes.CE_CMD_STALE ?? 0) - (start.commandErrorCodes.CE_CMD_STALE ?? 0)).toBe(1);
  });
});

describe('CommandRouter without a broker', () => {
  const clock = { now: () => NOON };
  it('answers a part that is not running with an error, and a part that throws with an error', async () => {
    // What the rules and accounting features register when they are off.
    let registry = new CommandRegistry();
    registry.register(rulesCommand(undefined, { now: () => NOON }));
    registry.register(instrumentsCommand(undefined));
    let router = new CommandRouter(registry, contract, { clock });
    expect(await router.handle('rules', Buffer.from(`{"type":"price","value":1,"issuedAt":${NOON}}`))).toMatchObject({ status: 'error', code: 'CE_CMD_NOT_RUNNING', error: /rule engine is not running/ });
    expect(await router.handle('instruments', Buffer.from(`{"type":"add","issuedAt":${NOON},"instrument":{"type":"GEC","MWh":1,"evidence":"x"}}`))).toMatchObject({
      status: 'error',
      code: 'CE_CMD_NOT_RUNNING',
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
    router = new CommandRouter(registry, contract, { clock });
    expect(await router.handle('rules', Buffer.from(`{"type":"price","value":1,"transaction":7,"issuedAt":${NOON}}`))).toEqual({
      schemaVersion: 1,
      status: 'error',
      code: 'CE_CMD_FAILED',
      error: 'rules command failed: database is locked',
      transaction: 7,
    });
    expect(router.counts).toMatchObject({ received: 1, ok: 0, error: 1 });
  });

  /** A router in front of a handler that counts what it applies; the clock is set by the test. */
  function counting(opts: { memory?: number } = {}) {
    const applied: Record<string, unknown>[] = [];
    const registry = new CommandRegistry();
    registry.register({ name: 'rules', feature: 'test', run: (cmd) => (applied.push(cmd), cmd.value === 13 ? { ok: false, error: 'unlucky' } : { ok: true }) });
    const t = { now: NOON };
    const router = new CommandRouter(registry, contract, { clock: { now: () => t.now }, maxAgeSec: 300, clockSkewSec: 30, ...opts });
    const send = (cmd: Record<string, unknown>) => router.handle('rules', Buffer.from(JSON.stringify(cmd)));
    return { applied, router, send, t };
  }

  it('a command without issuedAt is refused and told what to add; epoch seconds or a time without zone are schema errors', async () => {
    const { applied, send } = counting();
    expect(await send({ type: 'price', value: 1, transaction: 'a' })).toEqual({
      schemaVersion: 1,
      status: 'error',
      code: 'CE_CMD_NO_ISSUED_AT',
      transaction: 'a',
      error: 'command without issuedAt refused (command contract v2): add "issuedAt": the time the command was issued, as an RFC 3339 date-time with zone (e.g. "2026-06-15T10:30:00Z") or epoch milliseconds',
    });
    expect(await send({ type: 'price', value: 1, issuedAt: Math.floor(NOON / 1000) })).toMatchObject({ code: 'CE_CMD_SCHEMA', error: /\/issuedAt must be >= 1000000000000/ });
    expect(await send({ type: 'price', value: 1, issuedAt: '2026-06-15T10:30:00' })).toMatchObject({ code: 'CE_CMD_SCHEMA', error: /\/issuedAt must match format "date-time"/ });
    expect(applied).toEqual([]);
    // Both forms of a fresh time are accepted (ISO with an offset, epoch ms).
    expect(await send({ type: 'price', value: 1, issuedAt: new Date(NOON).toISOString().replace('Z', '+00:00') })).toMatchObject({ status: 'ok' });
    expect(await send({ type: 'price', value: 2, issuedAt: NOON - 1000 })).toMatchObject({ status: 'ok' });
    expect(applied).toEqual([{ type: 'price', value: 1 }, { type: 'price', value: 2 }]); // without issuedAt / transaction
  });

  it('a command older than the bound, or too far in the future, is refused with both times', async () => {
    const { applied, send } = counting();
    const stale = await send({ type: 'price', value: 1, issuedAt: NOON - 300_001, transaction: 's' });
    expect(stale).toMatchObject({ status: 'error', code: 'CE_CMD_STALE', transaction: 's', error: /^stale command: issued 300 s ago .*more than the 300 s accepted/ });
    expect(stale.data).toEqual({ issuedAt: new Date(NOON - 300_001).toISOString(), gatewayTime: new Date(NOON).toISOString(), ageMs: 300_001, maxAgeMs: 300_000, maxFutureMs: 30_000 });
    expect(await send({ type: 'price', value: 1, issuedAt: NOON + 30_001 })).toMatchObject({ code: 'CE_CMD_FUTURE', error: /in the future .*clock-skew tolerance of 30 s/ });
    expect(applied).toEqual([]);
    // The edges are accepted.
    expect(await send({ type: 'price', value: 1, issuedAt: NOON - 300_000 })).toMatchObject({ status: 'ok' });
    expect(await send({ type: 'price', value: 2, issuedAt: NOON + 30_000 })).toMatchObject({ status: 'ok' });
    expect(applied).toHaveLength(2);
  });

  it('replays: a copy gets the first answer and is not applied again; an applied transaction cannot carry another command', async () => {
    const { applied, router, send, t } = counting();
    const cmd = { type: 'price', value: 1, issuedAt: NOON, transaction: 'p1' };
    const first = await send(cmd);
    expect(first).toMatchObject({ status: 'ok', transaction: 'p1' });
    t.now += 60_000;
    expect(await send(cmd)).toEqual(first); // a redelivery
    expect(await send({ ...cmd, issuedAt: t.now })).toEqual(first); // a retry, re-stamped
    expect(await send({ ...cmd, value: 2, issuedAt: t.now })).toMatchObject({ status: 'error', code: 'CE_CMD_REPLAYED', transaction: 'p1', error: /transaction already applied to another command/ });
    // Without a transaction, the same payload is a copy; a new issuedAt is a new command.
    const bare = { type: 'price', value: 3, issuedAt: t.now };
    await send(bare);
    await send(bare);
    await send({ ...bare, issuedAt: t.now + 1 });
    expect(applied.map((c) => c.value)).toEqual([1, 3, 3]);
    expect(router.counts).toMatchObject({ ok: 3, repeated: 3, error: 1 });
    // A refused command's transaction may be used again (fix and resend).
    expect(await send({ type: 'price', value: 13, issuedAt: t.now, transaction: 'p2' })).toMatchObject({ code: 'CE_CMD_REFUSED', error: 'unlucky' });
    expect(await send({ type: 'price', value: 14, issuedAt: t.now, transaction: 'p2' })).toMatchObject({ status: 'ok' });
    // Once stale, a copy is refused as stale (nothing is remembered longer than needed).
    t.now = NOON + 300_001;
    expect(await send(cmd)).toMatchObject({ code: 'CE_CMD_STALE' });
  });

  it('when more commands arrive within the window than it remembers, older ones are refused as possible replays, never applied twice', async () => {
    const { applied, send } = counting({ memory: 3 });
    for (let i = 0; i < 5; i++) await send({ type: 'price', value: i, issuedAt: NOON - 10_000 + i });
    expect(applied).toHaveLength(5);
    // Commands 0 and 1 were forgotten: a copy of either is refused, not applied again; 4 is still answered.
    expect(await send({ type: 'price', value: 1, issuedAt: NOON - 10_000 + 1 })).toMatchObject({ code: 'CE_CMD_REPLAYED', error: /possible replay/ });
    expect(await send({ type: 'price', value: 4, issuedAt: NOON - 10_000 + 4 })).toMatchObject({ status: 'ok' });
    expect(applied).toHaveLength(5);
  });
});
