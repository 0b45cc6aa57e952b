/**
 * Cost of the local page and HTTP API: resident memory and CPU of `carbonedge run` on the memory
 * benchmark's 10-meter site (1 s polling, store and accounting on) with `--http` and a client
 * refreshing what the page asks every second, side by side with the same gateway without it.
 *
 * Both gateways run at the same time against the same simulators (each under its own unit id);
 * only the gateways are measured (the client runs in this process). Every second the client asks
 * what the open page asks on each refresh (/api/live, /api/rules), and every 10 s what it asks
 * rarely (the page, its script, the accounting windows, the 24 h series) and a /metrics scrape.
 * Durations: BENCH_MEMORY_WARMUP_S (default 30) and BENCH_MEMORY_MEASURE_S (default 60);
 * BENCH_HTTP_CLIENT=0 leaves the API idle (the feature's cost without a client).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { writeProfileVariant, writeSiteConfig } from './memory-site.js';
import { assertAlive, envSeconds, startSimulators, startSubject } from './memory.js';
import { cpuSeconds, median, rssMb, stopChild } from './procfs.js';
import { CLI } from './rss.js';

const POLL_MS = 1000;
const AIMS = { rssPlusMb: 10, cpuPlusPct: 20 };
/** What the open page asks on each refresh (refreshed here every second; the page itself refreshes every 3 s). */
const EVERY_SECOND = ['/api/live', '/api/rules'];
const EVERY_10_S = ['/', '/assets/app.js', '/api/accounting', '/api/series?hours=24', '/metrics'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function benchHttp(): Promise<Record<string, unknown>> {
  const warmupS = envSeconds('BENCH_MEMORY_WARMUP_S', 30);
  const measureS = Math.max(1, envSeconds('BENCH_MEMORY_MEASURE_S', 60));
  const dir = mkdtempSync(path.join(tmpdir(), 'ce-bench-http-'));
  const profileDir = path.join(dir, 'profiles');
  writeProfileVariant(profileDir);
  const units = { plain: 4, http: 5 };
  const started: ChildProcess[] = [];
  let requests = 0;
  let failures = 0;
  let stopClient = false;
  const failedBy = new Map<string, number>();
  const failed = (p: string, why: unknown) => {
    failures++;
    failedBy.set(`${p} ${String(why)}`, (failedBy.get(`${p} ${String(why)}`) ?? 0) + 1);
  };
  try {
    const sims = await startSimulators(profileDir, Object.values(units));
    started.push(sims.proc);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const gwEnv = { ...process.env, CARBONEDGE_LOG_LEVEL: 'warn' };
    const args = (unitId: number, extra: string[]) => {
      const file = path.join(dir, `site-unit${unitId}.yaml`);
      writeSiteConfig(file, { ports: sims.ports, unitId, profileDir, pollIntervalMs: POLL_MS });
      return [CLI, 'run', '--config', file, '--data', path.join(dir, `data-unit${unitId}`), ...extra];
    };
    const subjects = [
      startSubject('carbonedge run', units.plain, args(units.plain, []), gwEnv),
      startSubject('carbonedge run --http + client', units.http, args(units.http, ['--http', `127.0.0.1:${port}`]), gwEnv),
    ];
    started.push(...subjects.map((s) => s.proc));
    const fetchAll = async (paths: string[]) => {
      await Promise.all(
        paths.map(async (p) => {
          try {
            const res = await fetch(`${url}${p}`);
            await res.arrayBuffer();
            requests++;
            if (res.status >= 400 && !(p === '/healthz' && res.status === 503)) failed(p, res.status);
          } catch (err) {
            failed(p, (err as Error).message);
          }
        }),
      );
    };
    // The client starts once the API answers (start-up is not what is measured).
    for (let t = performance.now(); ; await sleep(200)) {
      subjects.forEach(assertAlive);
      if (await fetch(`${url}/healthz`).then((r) => r.arrayBuffer().then(() => true), () => false)) break;
      if (performance.now() - t > 60_000) throw new Error(`the gateway's API did not answer at ${url} within 60 s:\n${subjects[1]!.tail}`);
    }
    const client = (async () => {
      const t0 = performance.now();
      for (let k = 0; !stopClient && process.env.BENCH_HTTP_CLIENT !== '0'; k++) {
        await fetchAll(k % 10 === 0 ? [...EVERY_SECOND, ...EVERY_10_S] : EVERY_SECOND);
        await sleep(t0 + (k + 1) * 1000 - performance.now());
      }
    })();

    await sleep(warmupS * 1000);
    subjects.forEach(assertAlive);
    const cpu0 = subjects.map((s) => cpuSeconds(s.proc.pid!));
    const requests0 = requests;
    const t0 = performance.now();
    const samples: number[][] = subjects.map(() => []);
    for (let k = 1; k <= measureS; k++) {
      await sleep(t0 + k * 1000 - performance.now());
      subjects.forEach(assertAlive);
      subjects.forEach((s, i) => samples[i]!.push(rssMb(s.proc.pid!)));
    }
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu1 = subjects.map((s) => cpuSeconds(s.proc.pid!));
    stopClient = true;
    await client;
    const rows = subjects.map((s, i) => ({ name: s.name, medianRssMb: Number(fmt(median(samples[i]!))), cpuSecondsPerMin: Number(fmt(((cpu1[i]! - cpu0[i]!) / elapsedS) * 60, 2)) }));
    const [plain, http] = rows as [(typeof rows)[0], (typeof rows)[0]];
    const rssPlusMb = Number(fmt(http.medianRssMb - plain.medianRssMb));
    const cpuPlusPct = Number(fmt((http.cpuSecondsPerMin / plain.cpuSecondsPerMin - 1) * 100));
    // The same difference in absolute terms: share of one core, and CPU time per request served.
    const measuredRequests = requests - requests0;
    const extraCpuS = ((http.cpuSecondsPerMin - plain.cpuSecondsPerMin) / 60) * elapsedS;
    const cpuPlusCorePct = Number(fmt(((http.cpuSecondsPerMin - plain.cpuSecondsPerMin) / 60) * 100, 2));
    const cpuMsPerRequest = measuredRequests ? Number(fmt((extraCpuS * 1000) / measuredRequests, 2)) : null;
    process.stdout.write(
      `10 simulated meters, 1 s polling, store + accounting on; a client asks ${EVERY_SECOND.join(' ')} every second and ${EVERY_10_S.join(' ')} every 10 s; ` +
        `warm-up ${warmupS} s, then VmRSS every 1 s for ${fmt(elapsedS)} s\n`,
    );
    const w = Math.max(...rows.map((r) => r.name.length));
    process.stdout.write(`${''.padEnd(w)}  median VmRSS  CPU s/min\n`);
    for (const r of rows) process.stdout.write(`${r.name.padEnd(w)}  ${`${fmt(r.medianRssMb)} MB`.padStart(12)}  ${fmt(r.cpuSecondsPerMin, 2).padStart(9)}\n`);
    process.stdout.write(
      `http feature + client: RSS ${rssPlusMb >= 0 ? '+' : ''}${fmt(rssPlusMb)} MB (aim <= +${AIMS.rssPlusMb} MB), CPU ${cpuPlusPct >= 0 ? '+' : ''}${fmt(cpuPlusPct)} % ` +
        `(ratio ${fmt(http.cpuSecondsPerMin / plain.cpuSecondsPerMin, 2)}x; aim <= +${AIMS.cpuPlusPct} %) = +${fmt(cpuPlusCorePct, 2)} % of one core, ${cpuMsPerRequest ?? '-'} ms CPU per request; ` +
        `${measuredRequests} requests in the measured window, ${failures} failed${failures ? ` (${[...failedBy].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}\n`,
    );
    return {
      results: rows,
      rssPlusMb,
      cpuPlusPct,
      cpuPlusCorePct,
      cpuMsPerRequest,
      requestsMeasured: measuredRequests,
      failures,
      aims: AIMS,
      within: { rss: rssPlusMb <= AIMS.rssPlusMb, cpu: cpuPlusPct <= AIMS.cpuPlusPct },
    };
  } finally {
    stopClient = true;
    await Promise.all(started.reverse().map((p) => stopChild(p)));
    rmSync(dir, { recursive: true, force: true });
  }
}
