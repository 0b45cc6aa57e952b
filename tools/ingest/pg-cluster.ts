import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort } from '../free-port.js';

/** Debian's postgresql-15 server binaries. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A throw-away PostgreSQL cluster for tests and benchmarks: `initdb` in a temp directory, the
 * server on 127.0.0.1 and a free port, its socket in the same directory. PostgreSQL refuses to run
 * as root: when we are root, the directory is chowned to `nobody` (65534) and every server
 * process runs as that user. Nothing depends on a system-wide service.
 */
export class PgCluster {
  private proc: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly settings: string[],
  ) {}

  static available(): boolean {
    return fs.existsSync(path.join(PG_BIN, 'initdb')) && fs.existsSync(path.join(PG_BIN, 'postgres'));
  }

  /** `settings`: extra `-c name=value` server options (e.g. `fsync=off` for a benchmark). */
  static async start(opts: { settings?: string[] } = {}): Promise<PgCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-pg-'));
    const ids = asUser();
    if (ids) fs.chownSync(dir, ids.uid, ids.gid);
    fs.chmodSync(dir, 0o700);
    const data = path.join(dir, 'data');
    execFileSync(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C'], {
      stdio: 'pipe',
      ...(ids ?? {}),
    });
    const c = new PgCluster(dir, await freeTcpPort(), opts.settings ?? []);
    await c.startServer();
    return c;
  }

  /** Connection string of the `postgres` database as superuser `postgres`. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get output(): string {
    return this.log;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null;
  }

  private async startServer(): Promise<void> {
    const args = ['-D', path.join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100'];
    for (const s of this.settings) args.push('-c', s);
    const proc = spawn(path.join(PG_BIN, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...(asUser() ?? {}) });
    this.proc = proc;
    proc.stdout!.on('data', (d) => (this.log += d));
    proc.stderr!.on('data', (d) => (this.log += d));
    const deadline = performance.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`postgres exited with ${proc.exitCode}:\n${this.log}`);
      if ((await accepts(this.port)) && this.log.includes('ready to accept connections')) return;
      if (performance.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`postgres did not start on port ${this.port}:\n${this.log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop the server: `fast` (SIGINT: clean shutdown) or `immediate` (SIGQUIT: crash recovery at the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    });
    this.log = '';
  }

  /** Start again on the same port and data directory. */
  async restart(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.startServer();
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The unprivileged user to run the server as when we are root (nobody), else undefined. */
function asUser(): { uid: number; gid: number } | undefined {
  return process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
