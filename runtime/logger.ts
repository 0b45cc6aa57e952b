import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Structured logging for the whole runtime. Level from CARBONEDGE_LOG_LEVEL (default info).
 * Logs go to stderr so that CLI commands can keep stdout for their results (e.g. --json).
 */
export function createLogger(opts: LoggerOptions & { destination?: number | string } = {}): Logger {
  const { destination, ...rest } = opts;
  return pino(
    {
      level: process.env.CARBONEDGE_LOG_LEVEL ?? 'info',
      base: { app: 'carbonedge' },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...rest,
    },
    pino.destination({ dest: destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
