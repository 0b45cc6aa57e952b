import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prettyMessage, resolveLogFormat } from '../../runtime/logger.js';

// The built logger (dist/ is compiled by `npm test`; run `npm run build` before this file alone).
const LOGGER = path.resolve('dist/runtime/logger.js');
const SCRIPT = `import { createLogger } from ${JSON.stringify(LOGGER)};
const l = createLogger({ format: process.argv[1] || undefined });
l.child({ part: 'bus' }).warn({ device: 'pv', err: Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }) }, 'poll failed');`;

function runLogger(opts: { tty: boolean; flag?: string; env?: Record<string, string> }): string {
  const env = { ...process.env, CARBONEDGE_LOG_FORMAT: '', NO_COLOR: '1', ...opts.env };
  const node = [process.execPath, '--input-type=module', '-e', SCRIPT, opts.flag ?? ''];
  if (!opts.tty) return spawnSync(node[0]!, node.slice(1), { env, encoding: 'utf8' }).stderr;
  // util-linux `script` gives the child a pseudo-terminal as stdin/stdout/stderr.
  const cmd = node.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawnSync('script', ['-qec', cmd, '/dev/null'], { env, encoding: 'utf8' }).stdout.replace(/\r/g, '');
}

describe('log format selection', () => {
  it('pretty on a terminal, JSON otherwise; the flag wins over the environment, which wins over the TTY', () => {
    expect(resolveLogFormat(undefined, undefined, true)).toBe('pretty');
    expect(resolveLogFormat(undefined, undefined, false)).toBe('json');
    expect(resolveLogFormat(undefined, 'pretty', false)).toBe('pretty');
    expect(resolveLogFormat(undefined, 'json', true)).toBe('json');
    expect(resolveLogFormat('json', 'pretty', true)).toBe('json');
    expect(resolveLogFormat('pretty', 'json', false)).toBe('pretty');
    expect(() => resolveLogFormat('yaml', undefined, true)).toThrow(/--log-format expects one of json, pretty, got 'yaml'/);
    expect(() => resolveLogFormat(undefined, 'text', true)).toThrow(/CARBONEDGE_LOG_FORMAT/);
  });

  it('a readable line: part, message, then the fields, errors without their stack', () => {
    const line = prettyMessage({ level: 40, time: 1, pid: 9, hostname: 'h', app: 'carbonedge', part: 'bus', msg: 'poll failed', device: 'pv', err: 'Error: x (ETIMEDOUT)', n: 3 });
    expect(line).toBe('bus: poll failed device=pv err="Error: x (ETIMEDOUT)" n=3');
  });

  it('not on a terminal (journal, Docker, pipe): one JSON object per line', () => {
    const out = runLogger({ tty: false });
    const rec = JSON.parse(out.trim()) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 40, part: 'bus', device: 'pv', msg: 'poll failed' });
    expect(String((rec.err as { stack: string }).stack)).toContain('timed out');
  });

  it('--log-format pretty forces readable lines without a terminal', () => {
    const out = runLogger({ tty: false, flag: 'pretty' });
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(out).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] WARN: bus: poll failed device=pv err="Error: timed out \(ETIMEDOUT\)"\n$/);
  });

  // `script` is util-linux (Debian's essential bsdutils): always there, never skipped.
  it('on a terminal: one readable line per event; --log-format json and CARBONEDGE_LOG_FORMAT force JSON', () => {
    const pretty = runLogger({ tty: true });
    expect(pretty.trim().split('\n')).toHaveLength(1);
    expect(pretty).toMatch(/WARN: bus: poll failed device=pv err="Error: timed out \(ETIMEDOUT\)"/);
    expect(pretty).not.toContain('{');
    expect(JSON.parse(runLogger({ tty: true, flag: 'json' }).trim())).toMatchObject({ msg: 'poll failed' });
    expect(JSON.parse(runLogger({ tty: true, env: { CARBONEDGE_LOG_FORMAT: 'json' } }).trim())).toMatchObject({ msg: 'poll failed' });
  });
});
