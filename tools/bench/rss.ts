import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from '../free-port.js';
import { peakRssMb, rssMb, stopChild } from './procfs.js';

/** The `carbonedge` bin (tools/carbonedge.js) seen from dist/tools/bench/. */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tools/carbonedge.js');

/** V8 flags the gateway ships with (the shebang of tools/carbonedge.js, npm start, Dockerfile.arm64). */
export const SHIPPED_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'];

/**
 * Peak RSS of `carbonedge run` on the demo site: the simulators run in their own process
 * (`carbonedge simulate --site demo`), so only the gateway is measured.
 */
export async function benchRss(seconds = 30): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ce-bench-rss-'));
  const port = await freeTcpPort();
  const sim = spawn(process.execPath, [CLI, 'simulate', '--site', 'demo', '--tcp', String(port)], { stdio: 'ignore' });
  let gw: ChildProcess | undefined;
  try {
    const printed = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [CLI, 'demo', '--print-config', '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout!.on('data', (d) => (out += d));
      p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`demo --print-config exited ${code}`))));
    });
    const configFile = path.join(dir, 'site.yaml');
    writeFileSync(configFile, printed);
    await new Promise((r) => setTimeout(r, 1000));
    // The gateway runs with the V8 flags it ships with (tools/carbonedge.js, npm start, the image).
    gw = spawn(process.execPath, [...SHIPPED_NODE_FLAGS, CLI, 'run', '--config', configFile, '--data', path.join(dir, 'data')], {
      stdio: 'ignore',
      env: { ...process.env, CARBONEDGE_LOG_LEVEL: 'warn' },
    });
    const samples: number[] = [];
    for (let s = 0; s < seconds; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (gw.exitCode !== null) throw new Error(`carbonedge run exited early with ${gw.exitCode}`);
      samples.push(peakRssMb(gw.pid!));
    }
    const peak = Math.max(...samples);
    const result = {
      run_demo_seconds: seconds,
      node_flags: SHIPPED_NODE_FLAGS.join(' '),
      run_demo_peak_rss_mb: Number(peak.toFixed(1)),
      run_demo_final_rss_mb: Number(rssMb(gw.pid!).toFixed(1)),
      aim_rss_mb: 80,
    };
    process.stdout.write(`carbonedge run on the demo site (${seconds} s, ${result.node_flags}): peak RSS ${result.run_demo_peak_rss_mb} MB, now ${result.run_demo_final_rss_mb} MB (aim < 80 MB)\n`);
    return result;
  } finally {
    if (gw) await stopChild(gw);
    await stopChild(sim);
    rmSync(dir, { recursive: true, force: true });
  }
}
