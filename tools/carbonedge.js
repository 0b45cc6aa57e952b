#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1
// --max-semi-space-size=1: a 1 MB young generation keeps a gateway's resident memory small;
// --v8-pool-size=1: one V8 worker thread instead of one per core (fewer thread stacks and malloc
// arenas: ~5 MB with an uplink). README, "Memory"; also set by `npm start`, the arm64 image and
// the memory benchmarks.
// CLI entry point: the TypeScript sources are compiled to dist/ by `npm ci` (the `prepare` script).
import { main } from '../dist/tools/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`carbonedge: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
