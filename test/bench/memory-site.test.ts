import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planReads } from '../../drivers/modbus/planner.js';
import { loadSiteConfigFile } from '../../tools/cli/site.js';
import { BENCH_POINTS, BENCH_PROFILE, writeProfileVariant, writeSiteConfig } from '../../tools/bench/memory-site.js';
import { cpuSeconds, median, rssMb } from '../../tools/bench/procfs.js';

describe('memory benchmark site', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'ce-test-bench-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('the 12-point SDM630 variant keeps exactly the chosen points and plans to two reads', () => {
    const profile = writeProfileVariant(path.join(tmp(), 'profiles'));
    expect(profile.id).toBe(BENCH_PROFILE);
    expect(profile.points.map((p) => p.id)).toEqual([...BENCH_POINTS]);
    expect(planReads(profile).map((b) => [b.register, b.start, b.count])).toEqual([
      ['input', 0x00, 18],
      ['input', 0x34, 24],
    ]);
  });

  it('writes a site config the gateway loads: one tcp bus per meter, store and accounting on', async () => {
    const dir = tmp();
    const profileDir = path.join(dir, 'profiles');
    writeProfileVariant(profileDir);
    const file = path.join(dir, 'site.yaml');
    const ports = Array.from({ length: 10 }, (_, i) => 20000 + i);
    writeSiteConfig(file, { ports, unitId: 3, profileDir, pollIntervalMs: 1000 });
    const site = await loadSiteConfigFile(file);
    expect(site.config.buses.map((b) => (b.type === 'tcp' ? b.port : -1))).toEqual(ports);
    expect(site.config.devices.map((d) => [d.role, d.unitId, d.profile, d.pollIntervalMs])).toEqual(
      ports.map((_, i) => [i === 0 ? 'grid_meter' : 'submeter', 3, BENCH_PROFILE, 1000]),
    );
    expect(site.config.accounting).toMatchObject({ gridFactor: 'CN-2023-national' });
    expect(site.profiles.get(BENCH_PROFILE)?.points).toHaveLength(12);
  });
});

describe('bench /proc readings', () => {
  it('VmRSS and utime+stime of this process agree with what node reports', () => {
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += i % 7;
    expect(x).toBeGreaterThan(0);
    const rss = rssMb(process.pid);
    const nodeRss = process.memoryUsage().rss / 1048576;
    expect(Math.abs(rss - nodeRss)).toBeLessThan(nodeRss * 0.2);
    const { user, system } = process.cpuUsage();
    const nodeCpu = (user + system) / 1e6;
    expect(Math.abs(cpuSeconds(process.pid) - nodeCpu)).toBeLessThan(0.05 + nodeCpu * 0.1);
  });

  it('median of the samples', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(3);
  });
});
