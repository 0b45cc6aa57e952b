/**
 * One gateway per data directory (issue 8): the second instance refuses with the holder's pid
 * before anything starts; a lock left by a killed process does not block the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/errors.js';
import { LOCK_FILE, lockDataDir } from '../../runtime/config/data-dir-lock.js';
import { freeTcpPort } from '../../tools/free-port.js';

const root = mkdtempSync(path.join(tmpdir(), 'ce-lock-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const freshDir = () => path.join(root, `data-${n++}`);

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected the lock to be refused');
}

/** Spawn a process and resolve once its output matches `ready`. */
function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (ready.test(out)) resolve({ child, output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready: ${out}`)));
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

describe('data directory lock', () => {
  it('a second lock in the same process is refused; after release it can be taken again', () => {
    const dir = freshDir();
    const lock = lockDataDir(dir);
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid}\\b`));
    const err = refusal(() => lockDataDir(dir));
    expect(err.issues[0]).toMatchObject({ code: 'CE_CONFIG_DATA_DIR_LOCKED' });
    lock.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir).release();
  });

  it('held by another live process: refused naming its pid; after that process is SIGKILLed, taken over', async () => {
    const dir = freshDir();
    const holder = await start(
      ['--input-type=module', '-e', `import { lockDataDir } from ${JSON.stringify(path.resolve('dist/runtime/config/data-dir-lock.js'))}; lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000);`],
      /locked/,
    );
    const err = refusal(() => lockDataDir(dir));
    expect(err.issues[0]).toMatchObject({ code: 'CE_CONFIG_DATA_DIR_LOCKED' });
    expect(err.message).toMatch(new RegExp(`another gateway \\(pid ${holder.child.pid}\\) runs on this data directory`));
    holder.child.kill('SIGKILL');
    await exited(holder.child);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true); // left behind by the killed process
    const lock = lockDataDir(dir);
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid}\\b`));
    lock.release();
  });

  it('an unusable data directory is one clean error: the store\'s refusal (CE_STORE_DIR), not a lock problem', () => {
    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    expect(() => lockDataDir(path.join(file, 'data'))).toThrow(expect.objectContaining({ name: 'StoreOpenError', code: 'CE_STORE_DIR' }));
  });

  it('`carbonedge run`: a second gateway on the same --data refuses with the first one\'s pid; after a SIGKILL the next one starts', async () => {
    const dir = freshDir();
    const config = path.join(root, 'site.yaml');
    writeFileSync(
      config,
      `version: 1
site: { id: lock-test }
gateway: { id: gw }
buses: [{ id: lan, type: tcp, host: 127.0.0.1, port: ${await freeTcpPort()} }]
devices: [{ id: grid, role: grid_meter, bus: lan, unitId: 1, profile: eastron-sdm630, pollIntervalMs: 5000 }]
`,
    );
    const args = ['tools/carbonedge.js', 'run', '--config', config, '--data', dir];
    const first = await start(args, /gateway started/);
    const second = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(second);
    let stderr = '';
    second.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    expect(await exited(second)).toBe(75) // EXIT.locked (tools/cli/exit-codes.ts);
    expect(stderr).toMatch(new RegExp(`CE_CONFIG_DATA_DIR_LOCKED .*another gateway \\(pid ${first.child.pid}\\)`));
    expect(stderr).not.toMatch(/gateway started|\n\s+at /);
    first.child.kill('SIGKILL');
    await exited(first.child);
    const third = await start(args, /gateway started/);
    third.child.kill('SIGTERM');
    expect(await exited(third.child)).toBe(0);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false); // released on a clean stop
  });
});
