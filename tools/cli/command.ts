/** What every CLI command (tools/cli/commands/*) is and shares: usage errors, argument parsing, exit codes. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ExitCodes } from './exit-codes.js';

/** A CLI command: returns the process exit code. */
export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad command-line usage: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** parseArgs with strict checking that turns its errors into UsageError. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    // tokens: for commands where the order of repeated options matters (scan's buses).
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Wraps a command body: usage and config errors print cleanly with the right exit code (1 unless
 * `codes` says otherwise: the gateway commands use tools/cli/exit-codes.ts).
 */
export async function runCommand(usage: string, body: () => Promise<number>, codes: ExitCodes = {}): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`carbonedge: ${err.message}\nusage: ${usage}\n`);
      return 2;
    }
    if (err instanceof Error && err.name === 'ConfigError') {
      process.stderr.write(`${err.message}\n`);
      const locked = 'issues' in err && Array.isArray(err.issues) && err.issues.some((i: { code?: string }) => i.code === 'CE_CONFIG_DATA_DIR_LOCKED');
      return (locked ? codes.locked : codes.config) ?? 1;
    }
    // The site database cannot be used (runtime/persistence/open-errors.ts): path, cause, CE_STORE_ code.
    if (err instanceof Error && err.name === 'StoreOpenError') {
      process.stderr.write(`carbonedge: ${err.message}\n`);
      return codes.store ?? 1;
    }
    throw err;
  }
}

/** A plain-text table: a header, a rule, one line per row; columns in `right` are right-aligned. */
export function formatTable(head: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `HOST:PORT` of a flag (an IPv6 host in brackets). */
export function hostPort(flag: string, v: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`${flag} expects HOST:PORT, got '${v}'`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}
