import { createRequire } from 'node:module';
import pino, { type Logger, type LoggerOptions } from 'pino';
import type PinoPretty from 'pino-pretty';

/** pino-pretty is loaded only when a readable log is asked for (a gateway under systemd logs JSON and never pays for it). */
const loadPinoPretty = (): typeof PinoPretty => createRequire(import.meta.url)('pino-pretty');

export type { Logger };

/** How log lines are written: `json` (one JSON object a line) or `pretty` (one readable line). */
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * The log format: the `--log-format` flag, else CARBONEDGE_LOG_FORMAT, else `pretty` when the
 * log stream is a terminal and `json` when it is not (the systemd journal, Docker, a pipe).
 * Throws on an unknown value (the CLI turns it into a usage error).
 */
export function resolveLogFormat(flag: string | undefined, env: string | undefined, isTTY: boolean): LogFormat {
  for (const [v, from] of [
    [flag, '--log-format'],
    [env, 'CARBONEDGE_LOG_FORMAT'],
  ] as const) {
    if (v === undefined || v === '') continue;
    if (v === 'json' || v === 'pretty') return v;
    throw new Error(`${from} expects one of ${LOG_FORMATS.join(', ')}, got '${v}'`);
  }
  return isTTY ? 'pretty' : 'json';
}

/** An error in a readable line: its type, message and code, no stack. */
function errorOneLine(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return `${err.name}: ${err.message}${code ? ` (${code})` : ''}`;
}

/** Fields left out of readable lines: constant per process, shown in front, or already in the message. */
const PRETTY_SKIP = new Set(['pid', 'hostname', 'app', 'part', 'feature', 'live', 'level', 'time', 'msg']);

/** One field of a readable line: key=value, strings quoted only when they contain spaces. */
function field(key: string, v: unknown): string {
  const text = typeof v === 'string' ? (/[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v);
  return `${key}=${text}`;
}

/** The readable line after level and time: `part: message key=value ...`. */
export function prettyMessage(log: Record<string, unknown>): string {
  const part = log.part ?? log.feature;
  const fields = Object.entries(log)
    .filter(([k, v]) => !PRETTY_SKIP.has(k) && v !== undefined)
    .map(([k, v]) => field(k, v));
  return [`${part ? `${String(part)}: ` : ''}${String(log.msg ?? '')}`, ...fields].join(' ');
}

/** pino-pretty in-process (no worker thread), synchronous: one line per event on `fd`. */
function prettyStream(fd: number, colorize: boolean) {
  return loadPinoPretty()({
    destination: fd,
    sync: true,
    colorize,
    hideObject: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss',
    ignore: 'pid,hostname',
    messageFormat: (log) => prettyMessage(log),
  });
}

/**
 * Structured logging for the whole runtime. Level from CARBONEDGE_LOG_LEVEL (default info).
 * Logs go to stderr so that CLI commands can keep stdout for their results (e.g. --json).
 * Format: see resolveLogFormat (`format` = the `--log-format` flag, if given).
 */
export function createLogger(opts: LoggerOptions & { destination?: number | string; format?: string } = {}): Logger {
  const { destination, format: flag, ...rest } = opts;
  const fd = typeof destination === 'number' ? destination : 2;
  const isTTY = destination === undefined || typeof destination === 'number' ? !!(fd === 1 ? process.stdout : fd === 2 ? process.stderr : undefined)?.isTTY : false;
  const format = resolveLogFormat(flag, process.env.CARBONEDGE_LOG_FORMAT, isTTY);
  const base: LoggerOptions = {
    level: process.env.CARBONEDGE_LOG_LEVEL ?? 'info',
    base: { app: 'carbonedge' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...rest,
  };
  if (format === 'pretty' && typeof destination !== 'string') {
    const colorize = isTTY && !process.env.NO_COLOR;
    return pino({ ...base, serializers: { ...base.serializers, err: errorOneLine } }, prettyStream(fd, colorize));
  }
  return pino(base, pino.destination({ dest: destination ?? 2, sync: true }));
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
