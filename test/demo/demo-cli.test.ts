import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadSiteConfigText } from '../../tools/cli/site.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { DEMO_DEVICES } from '../../tools/simulator/demo-site.js';
import { freePort, havePeer, waitFor } from '../helpers/peers.js';
import { ModbusClient } from '../simulator/helpers.js';

const CLI = path.resolve('tools/carbonedge.js');

interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<number | null>;
}

const running = new Set<ChildProcess>();

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const p: Proc = {
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) => child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    })),
  };
  child.stdout!.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(args);
  const code = await p.exit;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/** pino JSON lines of a process's stderr. */
function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'carbonedge-demo-test-'));

afterAll(() => {
  for (const c of running) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

describe('carbonedge demo --print-config', () => {
  it('prints commented YAML that the site loader and `carbonedge check` accept', async () => {
    const { code, stdout } = await run(['demo', '--print-config']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^# carbonedge site configuration/);
    expect(stdout).toMatch(/# How often to read every point/);
    expect(YAML.parse(stdout)).toEqual(demoSiteConfig({ tcpPort: 1502 }));
    const loaded = loadSiteConfigText(stdout, 'demo.yaml');
    expect(loaded.config.devices.map((d) => `${d.id}:${d.unitId}:${d.profile}`)).toEqual([
      'grid:1:eastron-sdm630',
      'pv:2:sunspec-inverter-103',
      'battery:3:carbonedge-battery',
      'heatpump:4:carbonedge-sg-ready-heat-pump',
      'load:5:carbonedge-relay-load',
      'line:6:carbonedge-production-counter',
    ]);
    expect(loaded.config.site.timezone).toBe('Asia/Shanghai');
    // README and config agree: the battery rule keeps a 20 % reserve
    expect(JSON.stringify(loaded.config.rules)).toContain('"reserveSoc":20');
    const file = path.join(tmp, 'demo.yaml');
    writeFileSync(file, stdout);
    const check = await run(['check', '--config', file]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('refuses bad options with exit code 2', async () => {
    expect((await run(['demo', '--port', 'x'])).code).toBe(2);
    expect((await run(['demo', '--speed', '-1'])).code).toBe(2);
    expect((await run(['demo', '--bogus'])).code).toBe(2);
    const badFormat = await run(['demo', '--log-format', 'yaml']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("--log-format expects one of json, pretty, got 'yaml'");
  });
});

describe('carbonedge demo', () => {
  it('starts simulators and gateway, logs live values of every device, stores readings, exits 0 on SIGTERM', async () => {
    const data = path.join(tmp, 'data');
    const p = start(['demo', '--data', data, '--seed', '3']);
    try {
      await waitFor(() => {
        const live = logLines(p.stderr).filter((l) => l.live);
        return DEMO_DEVICES.every((d) => live.some((l) => (l.live as { device: string }).device === d));
      }, 30_000, 'a live value line for every demo device');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nstderr:\n${p.stderr}`);
    }
    // `carbonedge run`/`demo` say once, at info, that the gateway is healthy
    await waitFor(() => logLines(p.stderr).some((l) => String(l.msg).startsWith('healthy:')), 30_000, 'the healthy line');
    const healthy = logLines(p.stderr).filter((l) => String(l.msg).startsWith('healthy:'));
    expect(healthy).toHaveLength(1);
    // five physics devices, the production line counter and the DL/T 645 revenue meter on its own line
    expect(healthy[0]).toMatchObject({ level: 30, devices: 7, polling: 7, buses: 2, busesUp: 2, uplink: 'off' });
    expect(healthy[0]!.msg).toBe('healthy: 2 of 2 buses up, 7 of 7 devices polling, uplink off (store only)');
    const lines = logLines(p.stderr);
    const live = lines.filter((l) => l.live).map((l) => l.live as Record<string, unknown>);
    for (const d of DEMO_DEVICES) {
      const l = live.find((x) => x.device === d)!;
      expect(l.quality, d).toBe('good');
      expect(typeof l.power_w, d).toBe('number');
    }
    const grid = live.find((x) => x.device === 'grid')!;
    expect(grid.energy_import_kwh as number).toBeGreaterThan(40_000);
    expect(live.find((x) => x.device === 'battery')!.soc as number).toBeGreaterThan(0);
    // the simulators listen on loopback on a random port, not on 1502 or 502
    const serving = lines.find((l) => typeof l.modbusTcp === 'string')!;
    expect(serving.modbusTcp).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(serving.modbusTcp).not.toMatch(/:(502|1502)$/);
    expect(existsSync(path.join(data, 'carbonedge.db'))).toBe(true);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(logLines(p.stderr).filter((l) => typeof l.level === 'number' && (l.level as number) >= 50)).toEqual([]);
    const stopped = logLines(p.stderr).find((l) => l.writesReceived);
    expect(stopped, 'the simulators report the writes they received on stop').toBeDefined();
  });

  it('a second run continues the simulated counters: no counter discontinuity, counters never go back', async () => {
    const data = path.join(tmp, 'continue');
    const gridImport = (stderr: string) => logLines(stderr).filter((l) => (l.live as { device?: string } | undefined)?.device === 'grid').map((l) => (l.live as { energy_import_kwh: number }).energy_import_kwh);
    const runOnce = async () => {
      const p = start(['demo', '--data', data, '--seed', '5']);
      // healthy, then two live lines of the grid meter (the store has compared counters by then)
      await waitFor(() => logLines(p.stderr).some((l) => String(l.msg).startsWith('healthy:')) && gridImport(p.stderr).length >= 2, 40_000, 'two live grid lines');
      p.child.kill('SIGTERM');
      expect(await p.exit).toBe(0);
      return p;
    };
    const first = await runOnce();
    expect(existsSync(path.join(data, 'demo-simulator.json'))).toBe(true);
    const second = await runOnce();
    expect(logLines(second.stderr).find((l) => typeof l.modbusTcp === 'string')!.continued).toBe(true);
    expect(logLines(first.stderr).find((l) => typeof l.modbusTcp === 'string')!.continued).toBe(false);
    expect(gridImport(second.stderr)[0]!).toBeGreaterThanOrEqual(gridImport(first.stderr).at(-1)!);
    const discontinuities = logLines(second.stderr).filter((l) => String(l.msg).includes('discontinuity') || l.flag === 'reset' || l.flag === 'implausible');
    expect(discontinuities).toEqual([]);
  }, 120_000);

  it('--dry-run: the rules decide, and not one write reaches a simulated device', async () => {
    const p = start(['demo', '--data', path.join(tmp, 'dry'), '--dry-run']);
    // wait for the rule engine's first decisions (logged by the write gate as dry-run)
    await waitFor(() => logLines(p.stderr).some((l) => l.component === 'write-gate' && l.status === 'dry-run'), 30_000, 'a dry-run decision');
    expect(logLines(p.stderr).find((l) => l.msg === 'gateway started')!.dryRun).toBe(true);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    const stopped = logLines(p.stderr).find((l) => l.writesReceived)!;
    expect(stopped.writesReceived).toEqual({ grid: 0, pv: 0, battery: 0, heatpump: 0, load: 0 });
    expect(logLines(p.stderr).filter((l) => l.component === 'write-gate' && l.status !== 'dry-run')).toEqual([]);
  });
});

describe('carbonedge simulate', () => {
  it('serves the demo site over TCP for `carbonedge read` and stops on SIGINT', async () => {
    const port = await freePort();
    const p = start(['simulate', '--site', 'demo', '--tcp', String(port)]);
    await waitFor(() => p.stdout.includes('Ctrl-C to stop'), 20_000, 'simulate to start');
    expect(p.stdout).toContain(`Modbus TCP on 127.0.0.1:${port}`);
    expect(p.stdout).toContain('unit 1: grid (eastron-sdm630)');
    const read = await run(['read', '--profile', 'eastron-sdm630', '--tcp', `127.0.0.1:${port}`, '--unit', '1', '--json']);
    expect(read.code, read.stderr).toBe(0);
    const values = JSON.parse(read.stdout) as Record<string, { value: unknown; quality: string; unit?: string }>;
    expect(values.active_power!.quality).toBe('good');
    expect(typeof values.active_power!.value).toBe('number');
    expect(values.voltage_l1!.value as number).toBeGreaterThan(220);
    expect(values.energy_import!.unit).toBe('kWh');
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(0);
  });

  it.runIf(havePeer('socat'))('serves one profile with values from a file on a pseudo-terminal (RTU)', async () => {
    const file = path.join(tmp, 'values.json');
    writeFileSync(file, JSON.stringify({ active_power: -4321.5, voltage_l1: 236.5, energy_import: 777.25 }));
    const p = start(['simulate', '--profile', 'eastron-sdm630', '--unit', '3', '--values', file, '--static', '--rtu']);
    await waitFor(() => p.stdout.includes('Ctrl-C to stop'), 20_000, 'simulate to start');
    const m = /use (\S+) as the serial port/.exec(p.stdout);
    expect(m, p.stdout).not.toBeNull();
    expect(p.stdout).not.toContain('Modbus TCP'); // --rtu alone: no TCP server
    const client = new ModbusClient();
    try {
      await client.connectRTUBuffered(m![1]!, { baudRate: 9600 });
      client.setID(3);
      client.setTimeout(2000);
      const regs = (await client.readInputRegisters(0x34, 2)).data;
      const buf = Buffer.alloc(4);
      buf.writeUInt16BE(regs[0]!, 0);
      buf.writeUInt16BE(regs[1]!, 2);
      expect(buf.readFloatBE(0)).toBe(-4321.5);
      const v = (await client.readInputRegisters(0, 2)).data;
      buf.writeUInt16BE(v[0]!, 0);
      buf.writeUInt16BE(v[1]!, 2);
      expect(buf.readFloatBE(0)).toBe(236.5);
    } finally {
      await new Promise<void>((r) => (client.isOpen ? client.close(() => r()) : r()));
    }
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(existsSync(m![1]!)).toBe(false); // the pty pair is gone with socat
  });

  it('says clearly that socat is needed for --rtu without a path', async () => {
    const p = start(['simulate', '--site', 'demo', '--rtu'], { CARBONEDGE_SOCAT: path.join(tmp, 'no-socat-here') });
    expect(await p.exit).toBe(1);
    expect(p.stderr).toContain('carbonedge simulate: Modbus RTU simulation needs socat');
    expect(p.stderr).toContain('apt-get install socat');
    expect(p.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('reports usage and value-file errors clearly', async () => {
    const none = await run(['simulate']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give --site demo, --profile ID --unit N or --device PROFILE@UNIT ...');
    expect((await run(['simulate', '--site', 'factory'])).code).toBe(2);
    const unknown = await run(['simulate', '--profile', 'no-such-meter', '--unit', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('eastron-sdm630');
    const file = path.join(tmp, 'bad-values.json');
    writeFileSync(file, JSON.stringify({ not_a_point: 1, voltage_l1: [1] }));
    const bad = await run(['simulate', '--profile', 'eastron-sdm630', '--unit', '1', '--values', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${file} /not_a_point: 'not_a_point' is not a point id`);
    expect(bad.stderr).toContain(`${file} /voltage_l1: expected a number`);
  });
});
