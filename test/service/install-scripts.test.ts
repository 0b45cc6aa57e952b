/**
 * `npm ci` ends without npm 11's "install scripts not yet covered by allowScripts" warning: the
 * three native builds (better-sqlite3, serialport's bindings, epoll for onoff) are approved by
 * name in package.json `allowScripts` (npm install-scripts approve --no-allow-scripts-pin).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const npmMajor = Number(spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.split('.')[0]);

describe('install scripts', () => {
  it.skipIf(npmMajor < 11 && !process.env.CI)('npm reviews no uncovered install script (no warning at the end of npm ci)', () => {
    const r = spawnSync('npm', ['install-scripts', 'ls'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/No packages with unreviewed install scripts/);
  }, 60_000);
});
