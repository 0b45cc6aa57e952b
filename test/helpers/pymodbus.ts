import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PEERS } from './peers.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pymodbus_server.py');

export type RegisterImage = Partial<Record<'holding' | 'input' | 'coil' | 'discrete', Record<number, number>>>;

export interface PymodbusSpec {
  mode: 'tcp' | 'rtu' | 'rtu-over-tcp';
  port?: number;
  device?: string;
  baud?: number;
  parity?: 'N' | 'E' | 'O';
  stopbits?: 1 | 2;
  units: Record<number, RegisterImage>;
  silent?: number[];
  delayMs?: Record<number, number>;
  delayCount?: Record<number, number>;
  counters?: Record<number, Partial<Record<'holding' | 'input', number[]>>>;
}

/** A pymodbus 3.0.0rc1 server (test/helpers/pymodbus_server.py) under /usr/bin/python3. */
export class PymodbusServer {
  private proc: ChildProcessWithoutNullStreams | undefined;
  private out = '';
  private acks = 0;
  stderr = '';

  constructor(readonly spec: PymodbusSpec) {}

  async start(timeoutMs = 15000): Promise<this> {
    const proc = spawn(PEERS.python, [SCRIPT, JSON.stringify(this.spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => (this.out += d));
    proc.stderr.on('data', (d: string) => (this.stderr += d));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`pymodbus server did not start: ${this.stderr}`)), timeoutMs);
      const check = () => {
        if (this.out.includes('READY')) {
          clearTimeout(t);
          resolve();
        }
      };
      proc.stdout.on('data', check);
      proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`pymodbus server exited (${code}): ${this.stderr}`));
      });
      check();
    });
    return this;
  }

  /** Send a control message (see pymodbus_server.py) and wait for its acknowledgement. */
  async control(msg: Record<string, unknown>): Promise<void> {
    if (!this.proc) throw new Error('not started');
    const n = ++this.acks;
    this.proc.stdin.write(`${JSON.stringify(msg)}\n`);
    const deadline = performance.now() + 10000;
    while (!new RegExp(`(OK|ERR) ${n}\\b`).test(this.out)) {
      if (performance.now() > deadline) throw new Error(`pymodbus control ${JSON.stringify(msg)} not acknowledged`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const err = new RegExp(`ERR ${n} (.*)`).exec(this.out);
    if (err) throw new Error(`pymodbus control failed: ${err[1]}`);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  }
}

/** Encode helpers for register images (independent of the codec under test). */
export function f32Words(v: number, wordOrder: 'big' | 'little' = 'big'): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  const w = [b.readUInt16BE(0), b.readUInt16BE(2)];
  return wordOrder === 'big' ? w : w.reverse();
}

export function u32Words(v: number, wordOrder: 'big' | 'little' = 'big'): number[] {
  const w = [Math.floor(v / 65536) & 0xffff, v & 0xffff];
  return wordOrder === 'big' ? w : w.reverse();
}

export function at(address: number, words: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  words.forEach((w, i) => (out[address + i] = w));
  return out;
}
