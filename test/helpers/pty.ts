import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PEERS } from './peers.js';

/**
 * A pseudo-terminal pair bridged by socat: `a` and `b` behave like the two ends of an RS-485
 * link (what one side writes, the other reads). Killing it makes both ports vanish, as when a
 * USB adapter is unplugged; `start()` again recreates the same paths.
 */
export class PtyPair {
  readonly dir: string;
  readonly a: string;
  readonly b: string;
  private proc: ChildProcess | undefined;

  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(path.join(os.tmpdir(), 'ce-pty-'));
    this.a = path.join(this.dir, 'a');
    this.b = path.join(this.dir, 'b');
  }

  async start(timeoutMs = 10000): Promise<this> {
    const proc = spawn(PEERS.socat, ['-d', '-d', `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc = proc;
    let err = '';
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => (err += d));
    const deadline = performance.now() + timeoutMs;
    while (!(existsSync(this.a) && existsSync(this.b) && /starting data transfer loop/.test(err))) {
      if (proc.exitCode !== null) throw new Error(`socat exited: ${err}`);
      if (performance.now() > deadline) throw new Error(`socat pty pair not ready: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this;
  }

  /** Kill socat: both pty paths disappear. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await exited;
    }
    // socat removes its links on a clean exit only.
    rmSync(this.a, { force: true });
    rmSync(this.b, { force: true });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
