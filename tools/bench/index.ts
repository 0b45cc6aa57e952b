/**
 * `npm run bench`: every benchmark of the project, measured side by side in one run and printed
 * as ratios (ours against the raw library or the wire limit) plus peak RSS. Machines are shared
 * and noisy: these figures are for reading, never for failing a test.
 *
 *   npm run bench                 # all
 *   npm run bench -- poll store   # only some (planner, poll, rss, memory, store, drain, accounting, rules, http, ingest)
 *   BENCH_MEMORY_WARMUP_S=5 BENCH_MEMORY_MEASURE_S=10 npm run bench -- memory   # a quick memory run
 */
import { benchPlanner } from './planner.js';
import { benchPoll } from './poll.js';
import { benchRss } from './rss.js';
import { benchMemory } from './memory.js';
import { benchStore } from './store.js';
import { benchDrain } from './drain.js';
import { benchAccounting } from './accounting.js';
import { benchRules } from './rules.js';
import { benchHttp } from './http.js';
import { benchIngest } from './ingest.js';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  planner: benchPlanner,
  poll: benchPoll,
  rss: () => benchRss(),
  memory: benchMemory,
  store: benchStore,
  drain: benchDrain,
  accounting: benchAccounting,
  rules: benchRules,
  http: benchHttp,
  ingest: () => benchIngest(),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  const results: Record<string, unknown> = {};
  let failed = 0;
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) {
      process.stderr.write(`unknown benchmark '${name}' (expected: ${Object.keys(BENCHES).join(', ')})\n`);
      process.exitCode = 2;
      return;
    }
    process.stdout.write(`\n== ${name} ==\n`);
    try {
      results[name] = await bench();
    } catch (err) {
      failed++;
      results[name] = { error: (err as Error).message };
      process.stdout.write(`${name} failed: ${(err as Error).stack}\n`);
    }
  }
  process.stdout.write(`\n== summary (JSON) ==\n${JSON.stringify({ node: process.version, peakRssMbBenchProcess: Math.round(process.resourceUsage().maxRSS / 1024), results }, null, 2)}\n`);
  if (failed) process.exitCode = 1;
}

void main();
