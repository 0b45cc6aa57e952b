/** One problem found in a configuration, profile or activity file. */
export interface ConfigIssue {
  /** File the problem is in. */
  file: string;
  /** JSON-pointer-like path inside the file, e.g. `/devices/2/unitId`. */
  path: string;
  /** What was expected / what is wrong. */
  message: string;
  /** 1-based line (and column) in the file, when known. */
  line?: number;
  column?: number;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line ? `${i.file}:${i.line}${i.column ? `:${i.column}` : ''}` : i.file;
  return `${where} ${i.path || '/'}: ${i.message}`;
}

/** Thrown when a configuration has problems: carries every issue found, not just the first. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], title = 'refusing to start: the configuration has errors') {
    super(`${title}\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
