/**
 * The rule engine as a gateway feature. Registers service `writeGate` (the only path to
 * device writes: Modbus through `acquisition.writePoint`, GPIO relays) and service `rules`
 * (overrides, pushed carbon intensity / price), and the uplink command `rules`. Runs the control
 * loop every `control.tickMs` on one snapshot of the readings hub.
 *
 * Outputs on exit: a clean stop (SIGTERM, SIGINT) drives every output to its rule's safe state
 * (control.onExit: safe, the default) or leaves it as it is (hold). After a crash or power loss
 * the devices keep the last value written (Modbus registers, GPIO levels): give devices their
 * own fallback (e.g. a battery's communication watchdog) and wire relays fail-safe.
 */
import { serviceKey, type FeatureDeclaration } from '../runtime/feature-api.js';
import { OUTBOX } from '../runtime/services.js';
import { STORE } from '../runtime/store/feature.js';
import { ACQUISITION } from '../runtime/acquisition/feature.js';
import type { WriteGate } from '../runtime/control/write-gate.js';
import type { OverrideStore } from '../runtime/control/overrides.js';
import { controlConfigSchema, rulesConfigSchema, validateRulesConfig } from './config-schema.js';
import type { Override, RuleEngine } from './engine.js';

export interface RulesService {
  engine: RuleEngine;
  overrides: OverrideStore;
  setOverride(o: Override): void;
  clearOverride(output: string): boolean;
  /** Push grid carbon intensity (g/kWh) or price from outside, optionally valid until a time. */
  pushInput(name: 'carbonIntensity' | 'price', value: number, validUntil?: number): void;
  /** Apply a command received over the uplink (rules/README.md "Commands"). */
  command(cmd: unknown): { ok: true } | { ok: false; error: string };
}

export const RULES = serviceKey<RulesService>('rules');
/** The write gate: every device write passes it (dry-run, logging, decision log). */
export const WRITE_GATE = serviceKey<WriteGate>('writeGate');

export const rulesFeature: FeatureDeclaration = {
  name: 'rules',
  sections: [
    { key: 'rules', schema: rulesConfigSchema },
    { key: 'control', schema: controlConfigSchema },
  ],
  check: validateRulesConfig,
  uses: [STORE, OUTBOX, ACQUISITION],
  provides: [WRITE_GATE, RULES],
  create: async (ctx) => (await import('./feature-impl.js')).createRulesFeature(ctx),
};
