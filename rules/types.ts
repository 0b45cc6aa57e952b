/**
 * Rule and control configuration as data (the `rules:` and `control:` sections of the site
 * config, or rule files listed in `control.ruleFiles`). Documented in rules/README.md.
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

interface RuleCommon {
  id: string;
  description?: string;
  /** Higher wins when two rules write one output; ties on a shared output are a config error. */
  priority?: number;
  enabled?: boolean;
}

export interface SwitchRuleConfig extends RuleCommon, TimingConfig, CondConfig {
  kind: 'switch';
  /** `device.point` (boolean or numeric point) or `device` (a device with profile modes). */
  output: string;
  on?: OutputLiteral;
  off?: OutputLiteral;
  /** What to do when an input is stale or bad (default off). */
  safe?: 'on' | 'off' | 'hold';
}

export interface SetpointRuleConfig extends RuleCommon {
  kind: 'setpoint';
  output: string;
  /** Numeric expression of the setpoint. */
  value: string;
  /** Optional condition; while false the rule writes `idle` (or releases the output when no idle is set). */
  when?: string;
  idle?: number;
  min?: number;
  max?: number;
  /** Max change per second (engineering units/s). */
  rampPerS?: number;
  /** Changes smaller than this are not written. */
  deadband?: number;
  minWriteIntervalS?: number;
  /** Value written when an input is stale or bad, or `hold` (default hold). */
  safe?: number | 'hold';
}

export interface SurplusLoadConfig extends TimingConfig {
  output: string;
  type?: 'step' | 'continuous';
  /** Step loads: nominal consumption when on (W). */
  powerW?: number;
  /** Measured consumption of the load (expression, W); nominal powerW when absent or bad. */
  power?: string;
  on?: OutputLiteral;
  off?: OutputLiteral;
  /** A running step load stays on while its share is at least powerW - hysteresisW. */
  hysteresisW?: number;
  /** Continuous loads: range of the setpoint in W, and engineering units per W written. */
  minW?: number;
  maxW?: number;
  scale?: number;
  rampPerS?: number;
}

export interface SurplusRuleConfig extends RuleCommon, TimingConfig {
  kind: 'surplus';
  /** Expression of the surplus to share out, W (default `pv_surplus`). */
  surplus?: string;
  /** Keep this much of the surplus unallocated (W). */
  reserveW?: number;
  /** Loads in order of preference. */
  loads: SurplusLoadConfig[];
  safe?: 'off' | 'hold';
}

export type BatteryMode = 'self-consumption' | 'hold' | 'charge-from-surplus' | 'grid-charge' | 'discharge';

export interface BatteryRuleConfig extends RuleCommon {
  kind: 'battery';
  device: string;
  /** Below this state of charge the battery is not discharged (%). */
  reserveSoc?: number;
  /** Mode when nothing else applies (default self-consumption). */
  default?: 'self-consumption' | 'charge-from-surplus' | 'hold';
  /** Condition (expression) forcing `hold`. */
  hold?: string;
  gridCharge?: {
    co2Below?: number;
    priceBelow?: number;
    when?: string;
    untilSoc?: number;
    powerW?: number;
  };
  /** SoC hysteresis band (%), default 2. */
  socHysteresis?: number;
  minSwitchIntervalS?: number;
  minOnS?: number;
  safe?: BatteryMode | 'hold-last';
}

export interface SgReadyRuleConfig extends RuleCommon, TimingConfig {
  kind: 'sg-ready';
  device: string;
  boost?: CondConfig;
  forced?: CondConfig;
  blocked?: CondConfig;
  /** Mode names of the profile (defaults sg1-blocked, sg2-normal, sg3-boost, sg4-forced). */
  states?: { blocked?: string; normal?: string; boost?: string; forced?: string };
  safe?: 'blocked' | 'normal' | 'hold';
}

export interface ExportLimitRuleConfig extends RuleCommon {
  kind: 'export-limit';
  /** Power-limit setpoint of the generator (`device.point`). */
  output: string;
  /** Max export at the grid meter, W (0 = zero feed-in). */
  limitW: number;
  /** Grid meter device id (default: the device with role grid_meter). */
  meter?: string;
  /** Generator power input (expression, default `pv_power`). */
  generation?: string;
  /** Generator rating: the limit written when no curtailment is needed (W). */
  maxW: number;
  /** Engineering units of the output per W (e.g. 100/maxW for a percent limit). Default 1. */
  scale?: number;
  rampPerS?: number;
  deadband?: number;
  safe?: number | 'hold';
}

export interface PeakShaveRuleConfig extends RuleCommon, TimingConfig {
  kind: 'peak-shave';
  /** Import limit at the grid meter, W. */
  limitW: number;
  /** Loads are restored (released) one by one when import is below this (default 90 % of limitW). */
  restoreBelowW?: number;
  meter?: string;
  /** Seconds between shedding/restoring two loads (default 10). */
  stepS?: number;
  /**
   * Shave with the battery first: above the limit it stops charging, then discharges just enough
   * (mode `discharge` at `power_setpoint`, up to maxW, never at or below reserveSoc); loads are shed
   * only once it is at its limit. Released (to the other rules) after the loads, below restoreBelowW.
   */
  battery?: { device: string; maxW: number; reserveSoc?: number };
  /** Loads to shed in order (at least one of shed and battery). */
  shed?: { output: string; off?: OutputLiteral }[];
}

export type RuleConfig =
  | SwitchRuleConfig
  | SetpointRuleConfig
  | SurplusRuleConfig
  | BatteryRuleConfig
  | SgReadyRuleConfig
  | ExportLimitRuleConfig
  | PeakShaveRuleConfig;

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
