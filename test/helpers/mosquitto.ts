import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PEERS, freePort, waitForPort } from './peers.js';

export interface MosquittoTls {
  ca: string;
  cert: string;
  key: string;
  /** Require a client certificate signed by `ca`. */
  requireCertificate?: boolean;
}

/**
 * A real mosquitto on 127.0.0.1 and a random port, with a generated config and persistence in a
 * temp directory (sessions and queued QoS 1 messages survive stop/start, as on a real broker).
 * stop() sends SIGTERM (mosquitto saves its persistence file) and waits for the exit.
 */
export class Mosquitto {
  private proc: ChildProcess | undefined;
  readonly dir: string;
  private log = '';

  private constructor(readonly port: number, private readonly tls?: MosquittoTls) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-mosquitto-'));
  }

  static async start(opts: { port?: number; tls?: MosquittoTls } = {}): Promise<Mosquitto> {
    const m = new Mosquitto(opts.port ?? (await freePort()), opts.tls);
    await m.startProcess();
    return m;
  }

  get url(): string {
    return `${this.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.log;
  }

  private writeConfig(): string {
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      'allow_anonymous true',
      // Started as root, mosquitto would switch to user 'mosquitto' and could not read our temp files.
      `user ${os.userInfo().username}`,
      'persistence true',
      `persistence_location ${this.dir}/`,
      'autosave_interval 1',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
    ];
    if (this.tls) {
      lines.push(`cafile ${this.tls.ca}`, `certfile ${this.tls.cert}`, `keyfile ${this.tls.key}`);
      lines.push(`require_certificate ${this.tls.requireCertificate ? 'true' : 'false'}`);
    }
    const file = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }

  private async startProcess(): Promise<void> {
    const conf = this.writeConfig();
    const proc = spawn(PEERS.mosquitto, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (d) => (this.log += d));
    proc.stderr!.on('data', (d) => (this.log += d));
    let exited = false;
    proc.once('exit', () => (exited = true));
    try {
      await waitForPort(this.port, 10_000);
    } catch (err) {
      if (!exited) proc.kill('SIGKILL');
      throw new Error(`mosquitto did not start: ${(err as Error).message}\n${this.log}`);
    }
  }

  /** SIGTERM (persistence saved) and wait for the process to exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }

  /** Start again on the same port with the same persistence. */
  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
