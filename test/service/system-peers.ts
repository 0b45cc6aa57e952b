/** System tools the service tests run (package systemd, python3). In CI a missing one fails, never skips. */
import { existsSync } from 'node:fs';

export const SYSTEM_TOOLS = {
  systemdNotify: '/usr/bin/systemd-notify',
  systemdAnalyze: '/usr/bin/systemd-analyze',
  python: '/usr/bin/python3',
  systemdSysusers: '/usr/bin/systemd-sysusers',
  systemctl: '/usr/bin/systemctl',
} as const;

export function haveTools(...names: (keyof typeof SYSTEM_TOOLS)[]): boolean {
  const missing = names.filter((n) => !existsSync(SYSTEM_TOOLS[n])).map((n) => SYSTEM_TOOLS[n]);
  if (missing.length && process.env.CI) throw new Error(`service test peer(s) missing in CI: ${missing.join(', ')} (install with .ci/run)`);
  return missing.length === 0;
}
