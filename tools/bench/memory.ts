/**
 * Memory benchmark: resident memory and CPU of `carbonedge run` on 10 simulated SDM630 meters
 * (12 points each, 1 s polling, store and accounting on), without and with an uplink to a local
 * mosquitto, side by side with a minimal modbus-serial poller reading the same meters.
 *
 * The three run at the same time against the same simulators, each under its own unit id (the
 * simulators answer every unit id alike and count the requests of each). The simulators
 * (memory-sims.ts) and the broker run in their own processes: only the three clients are
 * measured. After a warm-up, VmRSS is sampled from /proc/<pid>/status every second; CPU is
 * utime + stime from /proc/<pid>/stat over the measured window, per minute. The gateway and the
 * poller run with the V8 flags the gateway ships with.
 *
 * Durations: BENCH_MEMORY_WARMUP_S (default 30) and BENCH_MEMORY_MEASURE_S (default 60).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { planReads } from '../../drivers/modbus/planner.js';
import { BASE_PROFILE, BENCH_PROFILE, BENCH_POINTS, writeProfileVariant, writeSiteConfig } from './memory-site.js';
import { startMosquitto } from './mosquitto.js';
import { cpuSeconds, median, rssMb, stopChild } from './procfs.js';
import { CLI, SHIPPED_NODE_FLAGS } from './rss.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const METERS = 10;
const POLL_MS = 1000;
const AIMS = { noUplinkMb: 65, uplinkMb: 72, uplinkRssRatio: 1.45, cpuRatio: 1.5 };
/** Measured before issue 9 (for reading the figures beside). */
const BEFORE = { noUplinkMb: 79, uplinkMb: 92, pollerMb: 50 };

export function envSeconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} expects a number of seconds >= 0, got '${raw}'`);
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** A child process whose output is kept (the last 4 KB) for the error message if it dies. */
export interface Subject {
  name: string;
  unitId: number;
  proc: ChildProcess;
  tail: string;
}

export function startSubject(name: string, unitId: number, args: string[], env?: NodeJS.ProcessEnv): Subject {
  const proc = spawn(process.execPath, [...SHIPPED_NODE_FLAGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  const s: Subject = { name, unitId, proc, tail: '' };
  const keep = (d: Buffer) => (s.tail = (s.tail + d.toString()).slice(-4096));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return s;
}

export function assertAlive(s: Subject): void {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) throw new Error(`${s.name} exited early (${s.proc.exitCode ?? s.proc.signalCode}):\n${s.tail}`);
}

/** The simulators' child process: its ports, and request counts by unit id on demand. */
export async function startSimulators(profileDir: string, unitIds: number[]) {
  const proc = spawn(process.execPath, [path.join(here, 'memory-sims.js'), JSON.stringify({ profileDir, profile: BENCH_PROFILE, meters: METERS, unitIds })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => waiting.shift()?.(line));
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const onExit = () => reject(new Error(`the simulators exited (${proc.exitCode})`));
      proc.once('exit', onExit);
      waiting.push((line) => (proc.off('exit', onExit), resolve(line)));
    });
  const { ports } = JSON.parse(await nextLine()) as { ports: number[] };
  return {
    proc,
    ports,
    async stats(): Promise<{ requests: Record<string, number>; exceptions: Record<string, number> }> {
      const line = nextLine();
      proc.stdin!.write('stats\n');
      return JSON.parse(await line) as { requests: Record<string, number>; exceptions: Record<string, number> };
    },
  };
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

export async function benchMemory(): Promise<Record<string, unknown>> {
  const warmupS = envSeconds('BENCH_MEMORY_WARMUP_S', 30);
  const measureS = Math.max(1, envSeconds('BENCH_MEMORY_MEASURE_S', 60));
  const dir = mkdtempSync(path.join(tmpdir(), 'ce-bench-memory-'));
  const profileDir = path.join(dir, 'profiles');
  const profile = writeProfileVariant(profileDir);
  const blocks = planReads(profile).map((b) => ({ register: b.register, start: b.start, count: b.count }));
  const units = { poller: 1, gateway: 2, uplink: 3 };
  const started: ChildProcess[] = [];
  let subscriber: mqtt.MqttClient | undefined;
  try {
    const sims = await startSimulators(profileDir, Object.values(units));
    started.push(sims.proc);
    const broker = await startMosquitto(dir);
    started.push(broker.proc);
    let uplinkMessages = 0;
    subscriber = await mqtt.connectAsync(broker.url, { clientId: 'bench-memory-counter' });
    subscriber.on('message', () => uplinkMessages++);
    await subscriber.subscribeAsync('#', { qos: 0 });

    const gwEnv = { ...process.env, CARBONEDGE_LOG_LEVEL: 'warn' };
    const gatewayArgs = (unitId: number, extra: string[]) => {
      const file = path.join(dir, `site-unit${unitId}.yaml`);
      writeSiteConfig(file, { ports: sims.ports, unitId, profileDir, pollIntervalMs: POLL_MS });
      return [CLI, 'run', '--config', file, '--data', path.join(dir, `data-unit${unitId}`), ...extra];
    };
    const subjects = [
      startSubject('minimal modbus-serial poller', units.poller, [
        path.join(here, 'memory-poller.js'),
        JSON.stringify({ ports: sims.ports, unitId: units.poller, intervalMs: POLL_MS, blocks }),
      ]),
      startSubject('carbonedge run, no uplink', units.gateway, gatewayArgs(units.gateway, []), gwEnv),
      startSubject('carbonedge run, uplink', units.uplink, gatewayArgs(units.uplink, ['--uplink', broker.url]), gwEnv),
    ];
    started.push(...subjects.map((s) => s.proc));

    await sleep(warmupS * 1000);
    subjects.forEach(assertAlive);
    const stats0 = await sims.stats();
    const cpu0 = subjects.map((s) => cpuSeconds(s.proc.pid!));
    const messages0 = uplinkMessages;
    const t0 = performance.now();
    const samples: number[][] = subjects.map(() => []);
    for (let k = 1; k <= measureS; k++) {
      await sleep(t0 + k * 1000 - performance.now());
      subjects.forEach(assertAlive);
      subjects.forEach((s, i) => samples[i]!.push(rssMb(s.proc.pid!)));
    }
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu1 = subjects.map((s) => cpuSeconds(s.proc.pid!));
    const stats1 = await sims.stats();
    const measured = subjects.map((s, i) => {
      const unit = String(s.unitId);
      return {
        name: s.name,
        medianRssMb: Number(fmt(median(samples[i]!))),
        maxRssMb: Number(fmt(Math.max(...samples[i]!))),
        cpuSecondsPerMin: Number(fmt(((cpu1[i]! - cpu0[i]!) / elapsedS) * 60, 2)),
        readsPerSec: Number(fmt(((stats1.requests[unit] ?? 0) - (stats0.requests[unit] ?? 0)) / elapsedS)),
        exceptionReplies: (stats1.exceptions[unit] ?? 0) - (stats0.exceptions[unit] ?? 0),
      };
    });
    const poller = measured[0]!;
    const gw = measured[1]!;
    const gwUp = measured[2]!;
    const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
    const rows = [
      { ...poller, rssRatio: 1, cpuRatio: 1, aim: `(measured before issue 9: ${BEFORE.pollerMb} MB)` },
      {
        ...gw,
        rssRatio: ratio(gw.medianRssMb, poller.medianRssMb),
        cpuRatio: ratio(gw.cpuSecondsPerMin, poller.cpuSecondsPerMin),
        aim: `<= ${AIMS.noUplinkMb} MB, CPU <= ${AIMS.cpuRatio}x (before: ${BEFORE.noUplinkMb} MB)`,
      },
      {
        ...gwUp,
        rssRatio: ratio(gwUp.medianRssMb, poller.medianRssMb),
        cpuRatio: ratio(gwUp.cpuSecondsPerMin, poller.cpuSecondsPerMin),
        aim: `<= ${AIMS.uplinkMb} MB and <= ${AIMS.uplinkRssRatio}x, CPU <= ${AIMS.cpuRatio}x (before: ${BEFORE.uplinkMb} MB)`,
      },
    ];
    const expectedReads = (METERS * blocks.length * 1000) / POLL_MS;
    process.stdout.write(
      `${METERS} simulated meters, profile ${BENCH_PROFILE} (${BENCH_POINTS.length} of the points of ${BASE_PROFILE}: ${BENCH_POINTS.join(', ')}; ` +
        `${blocks.length} reads per meter), ${POLL_MS / 1000} s polling, store + accounting on; node ${SHIPPED_NODE_FLAGS.join(' ')}; ` +
        `warm-up ${warmupS} s, then VmRSS every 1 s for ${fmt(elapsedS)} s\n`,
    );
    const w = Math.max(...rows.map((r) => r.name.length));
    process.stdout.write(`${''.padEnd(w)}  median VmRSS  CPU s/min  RSS ratio  CPU ratio  reads/s  aim\n`);
    for (const r of rows) {
      process.stdout.write(
        `${r.name.padEnd(w)}  ${`${fmt(r.medianRssMb)} MB`.padStart(12)}  ${fmt(r.cpuSecondsPerMin, 2).padStart(9)}  ${`${fmt(r.rssRatio, 2)}x`.padStart(9)}  ` +
          `${`${fmt(r.cpuRatio, 2)}x`.padStart(9)}  ${fmt(r.readsPerSec).padStart(7)}  ${r.aim}\n`,
      );
    }
    process.stdout.write(`(reads/s: requests the simulators answered for each, expected ${expectedReads}; exception replies: ${rows.map((r) => r.exceptionReplies).join(', ')})\n`);
    process.stdout.write(`uplink: ${uplinkMessages - messages0} MQTT messages reached a subscriber on the broker during the measured window (${uplinkMessages} in all)\n`);
    return {
      meters: METERS,
      profile: BENCH_PROFILE,
      points: [...BENCH_POINTS],
      readsPerMeter: blocks.length,
      pollIntervalMs: POLL_MS,
      nodeFlags: SHIPPED_NODE_FLAGS.join(' '),
      warmupS,
      measureS: Number(fmt(elapsedS)),
      expectedReadsPerSec: expectedReads,
      results: rows,
      uplinkMessagesMeasured: uplinkMessages - messages0,
      aims: AIMS,
      before: BEFORE,
      within: {
        noUplinkRss: gw.medianRssMb <= AIMS.noUplinkMb,
        uplinkRss: gwUp.medianRssMb <= AIMS.uplinkMb && rows[2]!.rssRatio <= AIMS.uplinkRssRatio,
        cpu: rows[1]!.cpuRatio <= AIMS.cpuRatio && rows[2]!.cpuRatio <= AIMS.cpuRatio,
      },
    };
  } finally {
    await subscriber?.endAsync().catch(() => undefined);
    await Promise.all(started.reverse().map((p) => stopChild(p)));
    rmSync(dir, { recursive: true, force: true });
  }
}
