import type { Command } from './command.js';

export type { Command } from './command.js';

/** Commands load lazily so `carbonedge read` does not pay for SQLite or MQTT start-up. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  backup: () => import('./commands/backup.js'),
  check: () => import('./commands/check.js'),
  config: () => import('./commands/config.js'),
  demo: () => import('./commands/demo.js'),
  instruments: () => import('./commands/instruments.js'),
  inventory: () => import('./commands/inventory.js'),
  'meter-change': () => import('./commands/meter-change.js'),
  offsets: () => import('./commands/offsets.js'),
  override: () => import('./commands/override.js'),
  profiles: () => import('./commands/profiles.js'),
  read: () => import('./commands/read.js'),
  replay: () => import('./commands/replay.js'),
  restore: () => import('./commands/restore.js'),
  scan: () => import('./commands/scan.js'),
  receive: () => import('./commands/receive.js'),
  report: () => import('./commands/report.js'),
  run: () => import('./commands/run.js'),
  simulate: () => import('./commands/simulate.js'),
  status: () => import('./commands/status.js'),
  verify: () => import('./commands/verify.js'),
};

function help(): string {
  return [
    'carbonedge: zero-carbon factory gateway runtime',
    '',
    'usage: carbonedge <command> [options]   (carbonedge <command> --help for its options)',
    '',
    `commands: ${Object.keys(COMMANDS).sort().join(', ')}`,
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`carbonedge: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  const { command } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  return command.run(rest);
}
