/**
 * Retained commands against a real mosquitto, published with the real `mosquitto_pub -r` while the
 * gateway is online, with the uplink on MQTT 3.1.1 (protocolVersion 4) and on MQTT 5.
 *
 * Why two cases: a broker that delivers a retained PUBLISH to an *established* subscription
 * clears its retain flag under MQTT 3.1.1 (spec 3.3.1-9), so the gateway cannot see that the
 * command is retained; MQTT 5 keeps the flag when the subscription asks for retain-as-published
 * (`rap`). The retained command is dangerous because the broker keeps it and delivers it again at
 * every reconnect, possibly hours later.
 *
 * The gateway here is the real one (store + uplink features, the real CommandRouter and contract)
 * with a `rules` handler that records what it applies, so "applied" is counted exactly.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeatureDeclaration } from '../../runtime/feature-api.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { storeFeature } from '../../runtime/store/feature.js';
import type { CommandResponse } from '../../runtime/uplink/commands.js';
import { UPLINK, uplinkFeature } from '../../runtime/uplink/feature.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { havePeer, PEERS, waitFor } from '../helpers/peers.js';
import { syntheticConfig } from './synthetic.js';

const run = promisify(execFile);
const PREFIX = 'carbonedge/site1/gw1';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  broker: Mosquitto;
  gw: Gateway;
  /** Commands the `rules` handler applied. */
  applied: Record<string, unknown>[];
  /** Publish with the real mosquitto_pub (`-r`: retained; `-n`: empty payload) and wait for the gateway's next answer. */
  pub(payload: string | Record<string, unknown> | null, opts?: { retain?: boolean }): Promise<CommandResponse>;
  /** Restart the broker (it keeps retained messages) and wait until the gateway has subscribed again. */
  reconnect(): Promise<void>;
  /** Wait for the next answer without publishing (a re-delivery). */
  nextAnswer(): Promise<CommandResponse>;
}

async function setup(protocolVersion: 4 | 5): Promise<Setup> {
  const broker = await Mosquitto.start();
  cleanups.push(() => broker.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-mosq-cmd-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const applied: Record<string, unknown>[] = [];
  const recorder: FeatureDeclaration = {
    name: 'recorder',
    create(ctx) {
      ctx.commands.register({ name: 'rules', feature: 'recorder', run: (cmd) => (applied.push(cmd), { ok: true, data: { applied: applied.length } }) });
      return null;
    },
  };
  // The cloud side: reads the answers (its own client, MQTT 3.1.1). Persistent session: answers
  // published while it reconnects after the broker restart are queued for it.
  const answers: CommandResponse[] = [];
  const cloud: MqttClient = await mqtt.connectAsync(broker.url, { clientId: `cloud-${protocolVersion}`, clean: false, reconnectPeriod: 100 });
  cleanups.push(() => cloud.endAsync());
  cloud.on('message', (_t, p) => answers.push(JSON.parse(p.toString('utf8')) as CommandResponse));
  await cloud.subscribeAsync(`${PREFIX}/cmd/rules/response`, { qos: 1 });
  const gw = new Gateway({
    config: syntheticConfig({
      store: { flushIntervalMs: 200, closeGraceMs: 500, statsIntervalMs: 0 },
      uplink: { protocolVersion, publishTimeoutMs: 2000, reconnect: { minMs: 100, maxMs: 500 } },
    }),
    profiles: new Map(),
    logger: silentLogger(),
    options: { dataDir: dir, uplinkUrl: broker.url },
    features: [storeFeature, uplinkFeature, recorder],
  });
  await gw.start();
  cleanups.push(() => gw.stop());
  const uplink = gw.ctx.services.get(UPLINK)!;
  await waitFor(() => uplink.health().commands.subscribed, 20_000, 'gateway subscribed to its commands');
  let seen = 0;
  const nextAnswer = async () => {
    await waitFor(() => answers.length > seen, 20_000, 'an answer on cmd/rules/response');
    return answers[seen++]!;
  };
  return {
    broker,
    gw,
    applied,
    nextAnswer,
    async pub(payload, opts = {}) {
      const args = ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', `${PREFIX}/cmd/rules`];
      if (opts.retain) args.push('-r');
      if (payload === null) args.push('-n');
      else args.push('-m', typeof payload === 'string' ? payload : JSON.stringify(payload));
      await run(PEERS.mosquittoPub, args);
      return nextAnswer();
    },
    async reconnect() {
      const connects = uplink.health().connects;
      await broker.restart();
      await waitFor(() => uplink.health().connects > connects && uplink.health().commands.subscribed, 20_000, 'gateway reconnected and subscribed');
    },
  };
}

const now = () => new Date().toISOString();

describe.runIf(havePeer('mosquitto', 'mosquittoPub'))('retained commands published with mosquitto_pub -r while the gateway is online', () => {
  it('MQTT 5: retain-as-published keeps the flag on live delivery, so the retained command is refused at once and at every reconnect', async () => {
    const s = await setup(5);
    // Control: the same kind of command, not retained, is applied (the path works, the time is fresh).
    expect(await s.pub({ type: 'price', value: 0.2, issuedAt: now(), transaction: 'live' })).toMatchObject({ status: 'ok', transaction: 'live' });
    expect(s.applied).toHaveLength(1);
    // Retained, fresh, live delivery: refused because of the flag alone (before this change the
    // uplink subscribed without `rap`, the broker cleared the flag and the command was applied).
    const retained = { type: 'price', value: 9, issuedAt: now(), transaction: 'retained-5' };
    expect(await s.pub(retained, { retain: true })).toMatchObject({ status: 'error', code: 'CE_CMD_RETAINED', transaction: 'retained-5' });
    expect(s.applied).toHaveLength(1);
    // The broker keeps it: delivered again when the gateway reconnects, refused again.
    await s.reconnect();
    expect(await s.nextAnswer()).toMatchObject({ code: 'CE_CMD_RETAINED', transaction: 'retained-5' });
    expect(s.applied).toHaveLength(1);
    // Clearing it (empty retained message) is answered, and applies nothing.
    expect(await s.pub(null, { retain: true })).toMatchObject({ status: 'error', code: 'CE_CMD_EMPTY' });
    expect(s.applied).toHaveLength(1);
  }, 60_000);

  it('MQTT 3.1.1: the flag is lost on live delivery, so the issue time decides: no issuedAt or a stale one is refused; a fresh one is applied once and refused at the reconnect', async () => {
    const s = await setup(4);
    // A retained command without issuedAt (a contract v1 sender, or a message typed by hand that
    // would sit at the broker for ever): refused, with what to add (before: applied).
    expect(await s.pub({ type: 'price', value: 7, transaction: 'v1-sender' }, { retain: true })).toMatchObject({
      status: 'error',
      code: 'CE_CMD_NO_ISSUED_AT',
      error: expect.stringMatching(/add "issuedAt"/),
    });
    // A retained command issued 10 minutes ago (what a retained message is by the time it is
    // delivered again): refused as stale although the broker cleared its flag (before: applied).
    const stale = { type: 'price', value: 8, issuedAt: new Date(Date.now() - 600_000).toISOString(), transaction: 'old' };
    expect(await s.pub(stale, { retain: true })).toMatchObject({ status: 'error', code: 'CE_CMD_STALE', transaction: 'old' });
    expect(s.applied).toEqual([]);
    // A fresh retained command: on its live delivery MQTT 3.1.1 gives no way to tell it from a
    // normal one, so it is applied like one (the documented limit; use protocolVersion 5)...
    const fresh = { type: 'price', value: 9, issuedAt: now(), transaction: 'fresh' };
    expect(await s.pub(fresh, { retain: true })).toMatchObject({ status: 'ok', transaction: 'fresh' });
    expect(s.applied).toEqual([{ type: 'price', value: 9 }]);
    // ...but never again: at the reconnect the broker re-delivers it with the retain flag set, and
    // once it is older than uplink.commandMaxAgeSec it is stale for any broker.
    await s.reconnect();
    expect(await s.nextAnswer()).toMatchObject({ status: 'error', code: 'CE_CMD_RETAINED', transaction: 'fresh' });
    expect(s.applied).toHaveLength(1);
  }, 60_000);
});
