/**
 * Exit codes of `carbonedge run` and `carbonedge demo`: what the supervisor (systemd, Docker) is
 * told about how the gateway ended. Values from sysexits.h where one fits. README, "Exit codes";
 * the unit (tools/service/carbonedge.service) lists the ones not worth a restart in
 * RestartPreventExitStatus=.
 */
export const EXIT = {
  /** Stopped by SIGTERM/SIGINT (or its parent going away) and everything stopped in time. */
  ok: 0,
  /** Failed to start, or failed while running/stopping: worth a restart. */
  failure: 1,
  /** Bad command line: a restart cannot help. */
  usage: 2,
  /** The stop deadline passed or a second signal came: exited without finishing the stop. */
  forced: 70,
  /** The data directory or database cannot be used (CE_STORE_ codes). */
  store: 73,
  /** Another gateway holds the data-directory lock (CE_CONFIG_DATA_DIR_LOCKED). */
  locked: 75,
  /** The site configuration is invalid (CE_CONFIG_ codes): a restart would loop, fix the file. */
  config: 78,
} as const;

export type ExitCodes = Partial<Record<'config' | 'store' | 'locked', number>>;

/** The codes a long-running gateway command (run, demo) exits with on refusals. */
export const GATEWAY_EXIT_CODES: ExitCodes = { config: EXIT.config, store: EXIT.store, locked: EXIT.locked };
