/** The rule engine's services (feature: ./feature.ts). */
import { serviceKey } from '../runtime/service-registry.js';
import type { WriteGate } from '../runtime/control/write-gate.js';
import type { OverrideStore } from '../runtime/control/overrides.js';
import type { Override, RuleEngine } from './engine.js';
import type { RulesCommandResult } from './commands.js';

export interface RulesService {
  engine: RuleEngine;
  overrides: OverrideStore;
  setOverride(o: Override): void;
  clearOverride(output: string): boolean;
  /** Push grid carbon intensity (g/kWh) or price from outside, optionally valid until a time. */
  pushInput(name: 'carbonIntensity' | 'price', value: number, validUntil?: number): void;
  /** Apply a command received over the uplink (rules/README.md "Commands"). */
  command(cmd: unknown): RulesCommandResult;
}

export const RULES = serviceKey<RulesService>('rules');
/** The write gate: every device write passes it (dry-run, logging, decision log). */
export const WRITE_GATE = serviceKey<WriteGate>('writeGate');
