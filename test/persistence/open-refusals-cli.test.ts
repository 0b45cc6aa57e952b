/**
 * `carbonedge run` (the real CLI from dist/) on a data directory or database it cannot use: one
 * clear line naming the path, the cause and a CE_STORE_ code, exit code 73, before anything starts,
 * and the database is never moved aside as "corrupt".
 *
 * Permissions: these tests often run as root, for whom chmod blocks nothing. Then the gateway is
 * run as the unprivileged user `nobody` (uid/gid 65534, as a gateway service should run), for whom
 * a 0555 directory and a 0444 file are really unwritable: a real reproduction, not a simulation.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../uplink/child-gateway.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'carbonedge.js');
const ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-open-refusals-'));
// mkdtemp makes 0700: `nobody` must be able to reach the config and the data directories.
fs.chmodSync(dir, 0o755);
const config = path.join(dir, 'site.yaml');

beforeAll(() => {
  assertBuilt();
  const r = spawnSync(process.execPath, [CLI, 'demo', '--print-config'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  fs.writeFileSync(config, r.stdout);
  fs.chmodSync(config, 0o644);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/**
 * Run `carbonedge run --config site.yaml --data <data>`; SIGKILL after 20 s (a gateway that
 * started, or spins, never exits by itself). `prefix`: a shell prelude (ulimit) before exec.
 */
function run(data: string, opts: { asNobody?: boolean; prefix?: string } = {}): Promise<Run> {
  const args = [CLI, 'run', '--config', config, '--data', data];
  const ids = opts.asNobody ? { uid: NOBODY, gid: NOBODY } : {};
  const proc = opts.prefix
    ? spawn('/bin/sh', ['-c', `${opts.prefix}; exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...ids })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    proc.once('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

/** One clear error: exit 73 (EXIT.store) by itself, the path, the code, no stack trace, nothing called corrupt. */
function expectRefused(r: Run, code: string, where: string): void {
  expect(r.signal, `${r.stdout}\n${r.stderr}`).toBeNull();
  expect(r.code, r.stderr).toBe(73); // EXIT.store (tools/cli/exit-codes.ts)
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr).toContain(where);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/\n\s+at |CORRUPT/);
}

function corruptCopies(data: string): string[] {
  return fs.existsSync(data) ? fs.readdirSync(data).filter((f) => f.includes('.corrupt-')) : [];
}

/** A healthy SQLite database (WAL) of about 200 KiB in `data`. */
function healthyDatabase(data: string, rows = 200): string {
  fs.mkdirSync(data, { recursive: true });
  const file = path.join(data, 'carbonedge.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS filler (x TEXT)');
  const ins = db.prepare('INSERT INTO filler VALUES (?)');
  for (let i = 0; i < rows; i++) ins.run('x'.repeat(1000));
  db.close();
  return file;
}

describe('carbonedge run refuses a store it cannot use, with one clear error', () => {
  it('a data directory under a regular file (ENOTDIR): CE_STORE_DIR', async () => {
    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'x');
    expectRefused(await run(path.join(file, 'data')), 'CE_STORE_DIR', path.join(file, 'data'));
  });

  it('--data /proc/x exits at once with CE_STORE_DIR (recursive mkdir used to spin at 100 % CPU, deaf to SIGTERM)', async () => {
    const r = await run('/proc/carbonedge-test-x');
    expectRefused(r, 'CE_STORE_DIR', '/proc/carbonedge-test-x');
    expect(r.stderr).toMatch(/cannot be created/);
  });

  it('an unwritable data directory (0555): CE_STORE_PERMISSION, not "corrupt", nothing moved', async () => {
    const data = path.join(dir, 'ro-dir');
    fs.mkdirSync(data);
    fs.chmodSync(data, 0o555);
    // As root chmod blocks nothing: run the gateway as `nobody`, for whom it is really unwritable.
    const r = await run(data, { asNobody: ROOT });
    expectRefused(r, 'CE_STORE_PERMISSION', data);
    expect(fs.readdirSync(data)).toEqual([]);
  });

  it('a read-only database file (0444, the gateway user is not root): CE_STORE_READ_ONLY before anything starts, file left alone', async () => {
    const data = path.join(dir, 'ro-file');
    const file = healthyDatabase(data);
    fs.chmodSync(data, 0o777);
    fs.chmodSync(file, 0o444);
    const before = fs.readFileSync(file);
    const r = await run(data, { asNobody: ROOT });
    expectRefused(r, 'CE_STORE_READ_ONLY', file);
    expect(corruptCopies(data)).toEqual([]);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('a write that fails with a disk I/O error (file size limit: how a full disk often reads) is not corruption: CE_STORE_IO, nothing moved', async () => {
    // RLIMIT_FSIZE of 32 KiB (ignoring SIGXFSZ, as a write to a full disk fails without a signal):
    // every write past 32 KiB fails with EFBIG, which SQLite reports as "disk I/O error", the same
    // error a full SD card gives. The healthy 200 KiB database must stay where it is.
    const data = path.join(dir, 'io-error');
    const file = healthyDatabase(data);
    const r = await run(data, { prefix: "trap '' XFSZ; ulimit -f 64" });
    expectRefused(r, 'CE_STORE_IO', file);
    expect(r.stderr).toMatch(/disk I\/O error/);
    expect(corruptCopies(data)).toEqual([]);
    // Still the healthy database, with all its rows.
    const db = new Database(file, { readonly: true, fileMustExist: true });
    expect(db.prepare('SELECT count(*) FROM filler').pluck().get()).toBe(200);
    db.close();
  });
});
