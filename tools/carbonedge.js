#!/usr/bin/env node
// CLI entry point: the TypeScript sources are compiled to dist/ by `npm ci` (the `prepare` script).
import { main } from '../dist/tools/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`carbonedge: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
