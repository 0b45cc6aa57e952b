/**
 * Configuration types shared by the rule kinds and the control section (a leaf module: the
 * kinds import it, so it imports nothing of theirs). Each kind's own config type lives in its
 * `kinds/<kind>.ts`; `types.ts` derives the union of all of them from the kind list.
 */

/** A literal written to an output: a boolean/number for a point, a mode name for a device. */
export type OutputLiteral = number | boolean | string;

/** Timing primitives shared by every switching rule. All in seconds. */
export interface TimingConfig {
  /** The on-condition must hold this long before switching on. */
  delayOnS?: number;
  /** The off-condition must hold this long before switching off. */
  delayOffS?: number;
  /** Once on, stay on at least this long. */
  minOnS?: number;
  /** Once off, stay off at least this long. */
  minOffS?: number;
  /** At least this long between any two changes of the output. */
  minSwitchIntervalS?: number;
}

/** Threshold form of hysteresis: `input` (an expression) switches on at/above `on`, off at/below `off` (or mirrored when on < off). */
export interface HysteresisConfig {
  input: string;
  on: number;
  off: number;
}

export interface CondConfig {
  when?: string;
  until?: string;
  hysteresis?: HysteresisConfig;
}

export interface RuleCommon {
  id: string;
  description?: string;
  /** Higher wins when two rules write one output; ties on a shared output are a config error. */
  priority?: number;
  enabled?: boolean;
}

export interface GpioOutputConfig {
  id: string;
  /** Line offset on the chip (BCM number on a Raspberry Pi). */
  line: number;
  activeLow?: boolean;
}

export interface ControlConfig {
  enabled?: boolean;
  /** Control period (default 5000 ms). */
  tickMs?: number;
  /** Inputs older than this are treated as stale (default: the hub's stale marking only). */
  maxInputAgeMs?: number;
  /** On a clean stop: drive outputs to their rules' safe states (`safe`, default) or leave them (`hold`). */
  onExit?: 'safe' | 'hold';
  /** Files with more rules (YAML list or `{rules: [...]}`), relative to the config file. */
  ruleFiles?: string[];
  /** Grid carbon intensity, g CO2/kWh: static profile by local hour, optionally replaced by pushed values. */
  carbonIntensity?: { hourly?: number[]; value?: number; pushedMaxAgeS?: number };
  /** Energy price per kWh by local hour (any currency), optionally pushed. */
  price?: { hourly?: number[]; value?: number; pushedMaxAgeS?: number };
  /** Named time-of-use windows for in_window("id"). */
  windows?: { id: string; from: string; to: string; days?: number[] }[];
  /** Named variables set by cron schedules (node-cron), readable by rules. */
  schedules?: { id: string; initial: number | boolean | string; at: { cron: string; value: number | boolean | string }[] }[];
  gpio?: { device?: string; chipLabel?: string; outputs: GpioOutputConfig[] };
}
