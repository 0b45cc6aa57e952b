/** Process helpers for the service tests: find processes by command line, wait for them to go. */
import { readdirSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';

/** Pids of live processes whose command line contains `marker` (e.g. a test's unique data directory). */
export function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // a zombie holds nothing
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').some((a) => a.includes(marker))) out.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

/** Wait (bounded by a poll count, not wall-time assertions) until no process mentions `marker`. */
export async function untilNoneWith(marker: string, polls = 300, everyMs = 100): Promise<number[]> {
  for (let i = 0; i < polls; i++) {
    const left = pidsWith(marker);
    if (!left.length) return [];
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return pidsWith(marker);
}

/** SIGKILL whatever still mentions `marker` (test clean-up only). */
export function killAllWith(marker: string): void {
  for (const pid of pidsWith(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}

/** A child with its output collected. */
export interface Launched {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function launch(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Launched {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return { proc, output: () => out, exited };
}

/** Wait until `cond` holds, polling; throws with `what` and the output after `polls` rounds. */
export async function until(cond: () => boolean, what: string, output: () => string, polls = 1200, everyMs = 100): Promise<void> {
  for (let i = 0; i < polls; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`not reached: ${what}\n${output().slice(-4000)}`);
}
