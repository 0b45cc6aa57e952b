/**
 * An installer's first hour, end to end, with the built CLI as separate processes: one
 * `carbonedge scan` over three buses (an RS-485 line on a pty with a CHINT DTSU666 on unit 1 and
 * an Acrel DTSD1352 on unit 12; a TCP serial converter with a Huawei SUN2000 answering for its
 * DTSU666-H meter and LUNA2000 battery on unit 1; a second RS-485 line with a DL/T 645 meter), its
 * snippet pasted under a site header, `carbonedge check`, then `carbonedge run` reading every device
 * with good quality. No profile is written by hand.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { buildLine, type SimulatedLine } from '../../tools/simulator/line-site.js';
import { freePort, havePeer, waitFor } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const METER = '123456789012';

describe.skipIf(!havePeer('socat'))('first hour on site: scan three buses, paste, check, run', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'first-hour-'));
  const lines: SimulatedLine[] = [];
  const ptys: PtyPair[] = [];
  let converterPort = 0;
  let gateway: ChildProcess | undefined;
  let log = '';

  beforeAll(async () => {
    const { profiles } = loadBuiltinProfiles();
    const serial = async (devices: { profile: string; at: number | string }[]) => {
      const pty = await new PtyPair().start();
      ptys.push(pty);
      const line = buildLine(devices, profiles, { generate: false });
      lines.push(line);
      await line.server.listenSerial(pty.b, { baudRate: 9600, parity: 'even' });
      return pty.a;
    };
    await serial([
      { profile: 'chint-dtsu666', at: 1 },
      { profile: 'acrel-dtsd1352', at: 12 },
    ]);
    await serial([{ profile: 'dlt645-2007', at: METER }]);
    const converter = buildLine(['huawei-sun2000', 'huawei-sun2000-dtsu666h', 'huawei-luna2000'].map((profile) => ({ profile, at: 1 })), profiles, { generate: false });
    lines.push(converter);
    converterPort = await converter.server.listenTcp(0, '127.0.0.1');
  });

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((r) => gateway!.once('exit', r));
      gateway.kill('SIGTERM');
      await exited;
    }
    for (const line of lines) await line.server.close();
    for (const pty of ptys) await pty.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one scan names every device; the snippet passes check; run reads them all with good quality', async () => {
    const [lineA, lineB] = ptys.map((p) => p.a);
    const scanned = await run(
      process.execPath,
      [CLI, 'scan', '--rtu', lineA!, '--rtu', lineB!, '--rtu-over-tcp', `127.0.0.1:${converterPort}`, '--baud', '9600', '--parity', 'even', '--units', '1-12', '--timeout', '150', '--json'],
      { timeout: 120_000 },
    );
    const { snippet } = JSON.parse(scanned.stdout) as { snippet: string };
    const port = await freePort();
    const file = path.join(dir, 'site.yaml');
    writeFileSync(file, `version: 1\nsite: { id: plant, timezone: Asia/Shanghai }\ngateway: { id: gw }\nhttp: { listen: "127.0.0.1:${port}" }\n${snippet}`);

    const checked = JSON.parse((await run(process.execPath, [CLI, 'check', '--config', file, '--json'], { timeout: 60_000 })).stdout) as { ok: boolean; devices: { id: string; profile: string }[] };
    expect(checked.ok).toBe(true);
    expect(checked.devices.map((d) => [d.id, d.profile])).toEqual([
      ['chint-dtsu666-1', 'chint-dtsu666'],
      ['acrel-dtsd1352-12', 'acrel-dtsd1352'],
      [`meter-${METER}`, 'dlt645-2007'],
      ['huawei-luna2000-1', 'huawei-luna2000'],
      ['huawei-sun2000-dtsu666h-1', 'huawei-sun2000-dtsu666h'],
      ['huawei-sun2000-1', 'huawei-sun2000'],
    ]);

    gateway = spawn(process.execPath, [CLI, 'run', '--config', file, '--data', path.join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
    gateway.stdout!.on('data', (d) => (log += d));
    gateway.stderr!.on('data', (d) => (log += d));
    let devices: { id: string; quality: string }[] = [];
    await waitFor(
      async () => {
        if (gateway!.exitCode !== null) throw new Error(`gateway exited: ${log}`);
        const res = await fetch(`http://127.0.0.1:${port}/api/devices`).catch(() => undefined);
        if (!res?.ok) return false;
        devices = ((await res.json()) as { devices: { id: string; quality: string }[] }).devices;
        return devices.length === 6 && devices.every((d) => d.quality === 'good');
      },
      60_000,
      'the gateway to read all six devices with good quality',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(devices)}\n${log.slice(-3000)}`);
    });
    // Nothing was written to any device while scanning and running.
    expect(lines.reduce((n, l) => n + l.server.stats.writes.size, 0)).toBe(0);
  }, 180_000);
});
