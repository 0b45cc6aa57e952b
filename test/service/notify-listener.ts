/** A real NOTIFY_SOCKET: a python3 unix datagram listener (test/service/notify_listener.py). */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './processes.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'notify_listener.py');

export class NotifyListener {
  /** Every datagram received, in order (each may carry several VAR=VALUE lines). */
  readonly messages: string[] = [];
  private out = '';
  private constructor(
    readonly socket: string,
    private readonly proc: ChildProcess,
  ) {
    proc.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        const msg = JSON.parse(line) as string;
        if (msg !== 'LISTENING') this.messages.push(msg);
        else this.listening = true;
      }
    });
  }

  private listening = false;

  static async start(socket: string): Promise<NotifyListener> {
    const proc = spawn('/usr/bin/python3', [SCRIPT, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const l = new NotifyListener(socket, proc);
    await until(() => l.listening, 'notify listener bound', () => '', 100);
    return l;
  }

  /** Messages carrying the assignment `line` (e.g. 'WATCHDOG=1'). */
  count(line: string): number {
    return this.messages.filter((m) => m.split('\n').includes(line)).length;
  }

  /** Assignments in order, BARRIER=1 left out. */
  lines(): string[] {
    return this.messages.flatMap((m) => m.split('\n')).filter((l) => l && l !== 'BARRIER=1');
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}
