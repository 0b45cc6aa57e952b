import { DEFAULT_CONFIG_CODE, type ConfigErrorCode } from './error-codes.js';

export { CONFIG_ERROR_CODES, type ConfigErrorCode } from './error-codes.js';

/** One problem found in a configuration, profile or activity file. */
export interface ConfigIssue {
  /** File the problem is in. */
  file: string;
  /** JSON-pointer-like path inside the file, e.g. `/devices/2/unitId`. */
  path: string;
  /** What was expected / what is wrong. */
  message: string;
  /** Stable error code (runtime/config/error-codes.ts); CE_CONFIG_INVALID when a check names none. */
  code?: ConfigErrorCode;
  /** 1-based line (and column) in the file, when known. */
  line?: number;
  column?: number;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line ? `${i.file}:${i.line}${i.column ? `:${i.column}` : ''}` : i.file;
  return `${i.code ?? DEFAULT_CONFIG_CODE} ${where} ${i.path || '/'}: ${i.message}`;
}

/** Thrown when a configuration has problems: carries every issue found, not just the first. */
export class ConfigError extends Error {
  /** Every issue, each with its code. */
  readonly issues: (ConfigIssue & { code: ConfigErrorCode })[];
  constructor(issues: ConfigIssue[], title = 'refusing to start: the configuration has errors') {
    const coded = issues.map((i) => ({ ...i, code: i.code ?? DEFAULT_CONFIG_CODE }));
    super(`${title}\n${coded.map((i) => `  - ${formatIssue(i)}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = coded;
  }
}
