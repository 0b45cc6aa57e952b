/** The `--log-format pretty|json` flag of the commands that run a gateway or simulators. */
import { createLogger, resolveLogFormat, type Logger } from '../../runtime/logger.js';
import { UsageError } from './command.js';

export const LOG_FORMAT_USAGE = '[--log-format pretty|json]';

/** The process logger for a `--log-format` value (undefined: CARBONEDGE_LOG_FORMAT, else by TTY). */
export function cliLogger(flag: string | undefined): Logger {
  try {
    resolveLogFormat(flag, process.env.CARBONEDGE_LOG_FORMAT, false);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return createLogger({ format: flag });
}
