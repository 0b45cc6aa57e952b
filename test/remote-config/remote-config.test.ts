/**
 * Remote configuration end to end: a real `carbonedge run` process on a config file, an aedes
 * broker, the demo devices served over Modbus TCP. Config commands on `<prefix>/cmd/config`:
 * a good config is applied (answered `applying`, then `applied`; the file, the history and the
 * retained status follow); a config that loses the broker is rolled back within the deadline and
 * the old one runs again; an invalid one is answered with its errors and changes nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite } from '../../tools/simulator/site.js';
import type { CommandResponse } from '../../runtime/uplink/commands.js';
import { freePort, waitFor } from '../helpers/peers.js';
import { AedesBroker } from '../uplink/aedes-broker.js';

const CLI = path.resolve('tools/carbonedge.js');
const PREFIX = 'carbonedge/demo-factory/demo-gateway';
const { profiles } = loadBuiltinProfiles();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-rcfg-'));
const configFile = path.join(dir, 'site.yaml');
const dataDir = path.join(dir, 'data');
const sha = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');

let broker: AedesBroker;
let server: SimulatorServer;
let child: ChildProcess;
let cloud: MqttClient;
let status: { state?: string; config?: { id: string; sha256: string } } = {};
const answers: CommandResponse[] = [];
/** Devices whose retained availability is online (they answer the gateway's polls). */
const online = new Set<string>();
let baseText = '';

function siteText(change: (c: Record<string, any>) => void = () => {}): string {
  const base = demoSiteConfig({ tcpPort: server.tcpPort! });
  const bus = base.buses.find((b) => b.type === 'tcp')!;
  const c: Record<string, any> = {
    version: 1,
    site: base.site,
    gateway: base.gateway,
    buses: [bus],
    devices: base.devices.filter((d) => d.bus === bus.id).map((d) => ({ ...d, pollIntervalMs: 500 })),
    uplink: { url: broker.url, remoteConfig: { enabled: true, deadlineSec: 4 } },
  };
  change(c);
  return `${JSON.stringify(c, null, 2)}\n`;
}

async function send(cmd: Record<string, unknown>, count: number): Promise<CommandResponse[]> {
  const before = answers.length;
  await cloud.publishAsync(`${PREFIX}/cmd/config`, JSON.stringify({ issuedAt: new Date().toISOString(), ...cmd }), { qos: 1 });
  await waitFor(() => answers.length >= before + count, 40_000, `${count} answer(s) to ${String(cmd.transaction)}`);
  return answers.slice(before, before + count);
}

const history = () => JSON.parse(spawnSync('node', [CLI, 'config', 'history', '--config', configFile, '--data', dataDir, '--json'], { encoding: 'utf8' }).stdout) as { active: string; entries: { id: string; source: string; outcome?: string }[] };

beforeAll(async () => {
  broker = await AedesBroker.start();
  const sim = new SimulatedSite({ profiles, site: { seed: 5, startMs: Date.now() } });
  server = await SimulatorServer.start({ tcp: { port: 0 }, devices: sim.devices });
  baseText = siteText();
  fs.writeFileSync(configFile, baseText);
  cloud = await mqtt.connectAsync(broker.url, { clientId: 'cloud-rcfg', reconnectPeriod: 200 });
  cloud.on('message', (topic, payload) => {
    if (topic === `${PREFIX}/cmd/config/response`) answers.push(JSON.parse(payload.toString('utf8')) as CommandResponse);
    if (topic === `${PREFIX}/status`) status = JSON.parse(payload.toString('utf8'));
    const device = new RegExp(`^${PREFIX}/device/([^/]+)/availability$`).exec(topic)?.[1];
    if (device) (JSON.parse(payload.toString('utf8')).state === 'online' ? online.add(device) : online.delete(device));
  });
  await cloud.subscribeAsync([`${PREFIX}/cmd/config/response`, `${PREFIX}/status`, `${PREFIX}/device/+/availability`], { qos: 1 });
  child = spawn('node', [CLI, 'run', '--config', configFile, '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  await waitFor(() => status.state === 'online', 30_000, 'gateway online');
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await cloud?.endAsync();
  await server?.close();
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('remote configuration over MQTT (real gateway process, aedes)', () => {
  it('the running config is the first history entry and is announced in the retained status', () => {
    expect(status.config).toEqual({ id: '000001', sha256: sha(baseText) });
    expect(history()).toMatchObject({ active: '000001', entries: [{ id: '000001', source: 'local', outcome: 'applied' }] });
  });

  it('an invalid config is answered with every error and changes nothing', async () => {
    const bad = siteText((c) => {
      c.devices[0].unitId = 999;
      c.buses[0].timeoutMs = 'soon';
    });
    const [res] = await send({ type: 'apply', config: bad, transaction: 'bad-1' }, 1);
    expect(res).toMatchObject({ status: 'error', code: 'CE_CMD_CONFIG_INVALID', transaction: 'bad-1' });
    const paths = ((res!.data as { issues: { path: string }[] }).issues).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['/devices/0/unitId', '/buses/0/timeoutMs']));
    expect(fs.readFileSync(configFile, 'utf8')).toBe(baseText);
    expect(history().entries).toHaveLength(1);
  });

  let goodText = '';
  it('a good config is applied: applying, then applied once the broker and every device are back; file, history and status follow', async () => {
    goodText = siteText((c) => {
      for (const d of c.devices) d.pollIntervalMs = 700;
    });
    // The apply watches the devices that read good when it arrives: wait until they answer (a loaded machine is slow to the first poll).
    await waitFor(() => online.size > 0, 30_000, 'the devices answering the gateway');
    const [first, second] = await send({ type: 'apply', config: goodText, transaction: 'good-1' }, 2);
    expect(first).toMatchObject({ status: 'ok', transaction: 'good-1', data: { status: 'applying', id: '000002', sha256: sha(goodText) } });
    expect((first!.data as { watch: { devices: string[]; broker: boolean } }).watch.broker).toBe(true);
    expect((first!.data as { watch: { devices: string[] } }).watch.devices.length).toBeGreaterThan(0);
    expect(second).toMatchObject({ status: 'ok', transaction: 'good-1', data: { status: 'applied', id: '000002' } });
    expect(fs.readFileSync(configFile, 'utf8')).toBe(goodText);
    await waitFor(() => status.config?.sha256 === sha(goodText), 20_000, 'status announces the new config');
    expect(history()).toMatchObject({ active: '000002', entries: [{ id: '000001' }, { id: '000002', source: 'remote', outcome: 'applied' }] });
  });

  it('a config that loses the broker is rolled back within the deadline and the old one runs again', async () => {
    const closed = await freePort();
    const broken = siteText((c) => {
      c.uplink.url = `mqtt://127.0.0.1:${closed}`;
    });
    const [first, second] = await send({ type: 'apply', config: broken, transaction: 'broken-1' }, 2);
    expect(first).toMatchObject({ status: 'ok', transaction: 'broken-1', data: { status: 'applying', id: '000003' } });
    expect(second).toMatchObject({ status: 'error', code: 'CE_CMD_CONFIG_ROLLED_BACK', transaction: 'broken-1', data: { status: 'rolled-back', id: '000003', restored: '000002' } });
    expect(second!.error).toMatch(/broker .* not connected/);
    expect(fs.readFileSync(configFile, 'utf8')).toBe(goodText);
    await waitFor(() => status.state === 'online' && status.config?.sha256 === sha(goodText), 20_000, 'old config online again');
    expect(history()).toMatchObject({ active: '000002', entries: [{ id: '000001' }, { id: '000002' }, { id: '000003', outcome: 'rolled-back' }] });
  });

  it('rollback by command goes back to the config before the running one', async () => {
    const [first, second] = await send({ type: 'rollback', transaction: 'rb-1' }, 2);
    expect(first).toMatchObject({ status: 'ok', data: { status: 'applying', id: '000004', sha256: sha(baseText) } });
    expect(second).toMatchObject({ status: 'ok', transaction: 'rb-1', data: { status: 'applied', id: '000004' } });
    expect(fs.readFileSync(configFile, 'utf8')).toBe(baseText);
  });

  it('after the gateway stops, `carbonedge config rollback` restores the previous config locally', async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const r = spawnSync('node', [CLI, 'config', 'rollback', '--config', configFile, '--data', dataDir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(configFile, 'utf8')).toBe(goodText);
    expect(history().active).toBe('000002');
  });
});

describe('a power cut while the config is written', () => {
  it('a process killed between writing the new file and renaming it leaves the old config, which still passes check', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-rcfg-cut-'));
    const file = path.join(d, 'site.yaml');
    const old = fs.readFileSync(path.resolve('tools/simulator/demo-config.ts'), 'utf8').length > 0 ? spawnSync('node', [CLI, 'demo', '--print-config'], { encoding: 'utf8' }).stdout : '';
    fs.writeFileSync(file, old);
    const mod = path.resolve('dist/runtime/config/atomic-write.js');
    const script = `import(${JSON.stringify(mod)}).then(({ writeFileAtomic }) => writeFileAtomic(${JSON.stringify(file)}, 'version: 1\\nsite: [broken', { beforeRename: () => process.kill(process.pid, 'SIGKILL') }))`;
    const r = spawnSync('node', ['-e', script]);
    expect(r.signal).toBe('SIGKILL');
    expect(fs.readFileSync(file, 'utf8')).toBe(old);
    const check = spawnSync('node', [CLI, 'check', '--config', file], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    fs.rmSync(d, { recursive: true, force: true });
  });
});
