/**
 * `carbonedge simulate --device ...`: Modbus units and DL/T 645 meters on one simulated RS-485
 * line, on a pty pair and behind a TCP port (as a TCP serial converter passes the line through),
 * read back with `carbonedge read` (a separate process) by unit id and by meter address.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { freeTcpPort } from '../../tools/free-port.js';
import { buildLine, parseLineDevice, type SimulatedLine } from '../../tools/simulator/line-site.js';
import { havePeer, waitFor } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const ADDRESS = '123456789012';
const readJson = async (...args: string[]) => JSON.parse((await run(process.execPath, [CLI, 'read', ...args, '--json'], { timeout: 60_000 })).stdout) as Record<string, { value: unknown; quality: string }>;

describe('parseLineDevice', () => {
  it('PROFILE@UNIT, PROFILE@ADDRESS, and what is expected otherwise', () => {
    expect(parseLineDevice('chint-dtsu666@1')).toEqual({ profile: 'chint-dtsu666', at: 1 });
    expect(parseLineDevice(`dlt645-2007@${ADDRESS}`)).toEqual({ profile: 'dlt645-2007', at: ADDRESS });
    expect(parseLineDevice('eastron-sdm630@248')).toMatch(/unit id 248 .* is not 1\.\.247/);
    expect(parseLineDevice('eastron-sdm630')).toMatch(/expected PROFILE@UNIT/);
  });
});

describe.skipIf(!havePeer('socat'))('a mixed line on a pty pair: DTSU666 unit 1, SDM630 unit 12, a DL/T 645 meter', () => {
  let pty: PtyPair;
  let line: SimulatedLine;
  beforeAll(async () => {
    pty = await new PtyPair().start();
    const specs = ['chint-dtsu666@1', 'eastron-sdm630@12', `dlt645-2007@${ADDRESS}`].map((s) => {
      const spec = parseLineDevice(s);
      if (typeof spec === 'string') throw new Error(spec);
      return spec;
    });
    line = buildLine(specs, loadBuiltinProfiles().profiles, { generate: false });
    await line.server.listenSerial(pty.b, { baudRate: 9600, parity: 'even' });
  });
  afterAll(async () => {
    await line?.server.close();
    await pty?.dispose();
  });

  it('each device answers by its own address; nobody else answers', async () => {
    const dtsu = await readJson('--profile', 'chint-dtsu666', '--rtu', pty.a, '--baud', '9600', '--parity', 'even', '--unit', '1');
    expect(dtsu.active_power).toMatchObject({ quality: 'good' });
    const sdm = await readJson('--profile', 'eastron-sdm630', '--rtu', pty.a, '--baud', '9600', '--parity', 'even', '--unit', '12');
    expect(sdm.active_power).toMatchObject({ quality: 'good' });
    const meter = await readJson('--profile', 'dlt645-2007', '--rtu', pty.a, '--baud', '9600', '--parity', 'even', '--address', ADDRESS);
    expect(meter.energy_import).toMatchObject({ value: 1206.42, quality: 'good' });
    const silent = await run(process.execPath, [CLI, 'read', '--profile', 'eastron-sdm630', '--rtu', pty.a, '--baud', '9600', '--parity', 'even', '--unit', '2', '--timeout', '200'], { timeout: 60_000 }).catch((e: { code: number }) => e);
    expect(silent).toMatchObject({ code: 1 });
    expect(line.server.stats.requests.get(2)).toBeUndefined();
  });
});

describe('carbonedge simulate --device ... --tcp PORT: the line behind a TCP serial converter', () => {
  let child: ChildProcess;
  let port: number;
  let out = '';
  beforeAll(async () => {
    port = await freeTcpPort();
    child = spawn(process.execPath, [CLI, 'simulate', '--device', 'chint-dtsu666@1', '--device', 'eastron-sdm630@12', '--device', `dlt645-2007@${ADDRESS}`, '--tcp', String(port), '--static'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('Ctrl-C'), 30_000, 'the simulator started');
  });
  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('lists the devices of the line and serves them by unit id and by address', async () => {
    expect(out).toContain('unit 1: chint-dtsu666');
    expect(out).toContain('unit 12: eastron-sdm630');
    expect(out).toContain(`address ${ADDRESS}: dlt645-2007`);
    const sdm = await readJson('--profile', 'eastron-sdm630', '--rtu-over-tcp', `127.0.0.1:${port}`, '--unit', '12');
    expect(sdm.voltage_l1).toMatchObject({ quality: 'good' });
    const meter = await readJson('--profile', 'dlt645-2007', '--tcp', `127.0.0.1:${port}`, '--address', ADDRESS);
    expect(meter.energy_import).toMatchObject({ value: 1206.42, quality: 'good' });
  });
});
