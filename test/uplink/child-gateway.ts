import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const here = path.dirname(fileURLToPath(import.meta.url));
const ENTRY = path.join(here, 'fixtures', 'gateway-child.mjs');
const DIST = path.join(here, '..', '..', 'dist', 'runtime', 'uplink', 'uplink.js');

export function assertBuilt(): void {
  if (!existsSync(DIST)) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` (npm test does) before the child-process tests');
}

/** A gateway in its own process (so it can be killed with SIGKILL). */
export class ChildGateway {
  readonly proc: ChildProcess;
  output = '';
  private constructor(env: Record<string, string>) {
    this.proc = spawn(process.execPath, [ENTRY], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.output += d));
    this.proc.stderr!.on('data', (d) => (this.output += d));
  }

  static async start(dataDir: string, url: string, clockStart: number): Promise<ChildGateway> {
    const c = new ChildGateway({ CE_DATA_DIR: dataDir, CE_UPLINK_URL: url, CE_CLOCK_START: String(clockStart) });
    await c.waitOutput('ready');
    return c;
  }

  async waitOutput(s: string, timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.output.includes(s)) {
      if (this.proc.exitCode !== null || performance.now() > deadline) throw new Error(`child gateway: no '${s}'\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  kill9(): Promise<void> {
    return this.signal('SIGKILL');
  }

  async signal(sig: NodeJS.Signals): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill(sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM') await exited;
  }
}

/** Read the child's store (WAL allows a concurrent reader): last seq per stream and outbox size. */
export function readChildStore(dataDir: string): { lastSeqs: Record<string, number>; outbox: number } {
  const db = new Database(path.join(dataDir, 'carbonedge.db'), { readonly: true, fileMustExist: true });
  try {
    const lastSeqs: Record<string, number> = {};
    for (const r of db.prepare('SELECT stream, last_seq FROM outbox_seq').all() as { stream: string; last_seq: number }[]) lastSeqs[r.stream] = r.last_seq;
    const outbox = db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
    return { lastSeqs, outbox };
  } finally {
    db.close();
  }
}
