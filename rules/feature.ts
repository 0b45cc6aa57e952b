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
import type { FeatureDeclaration } from '../runtime/feature-api.js';
import { OUTBOX } from '../runtime/services.js';
import { PERSISTENCE } from '../runtime/persistence/shared.js';
import { ACQUISITION } from '../runtime/acquisition/service.js';
import { DECISION_LOG_MIGRATIONS } from '../runtime/control/decision-log.js';
import { OVERRIDES_MIGRATIONS } from '../runtime/control/overrides.js';
import { controlConfigSchema, rulesConfigSchema, validateRulesConfig } from './config-schema.js';
import { RULES, WRITE_GATE } from './service.js';

export { RULES, WRITE_GATE, type RulesService } from './service.js';

export const rulesFeature: FeatureDeclaration = {
  name: 'rules',
  sections: [
    { key: 'rules', schema: rulesConfigSchema },
    { key: 'control', schema: controlConfigSchema },
  ],
  check: validateRulesConfig,
  migrations: [...DECISION_LOG_MIGRATIONS, ...OVERRIDES_MIGRATIONS],
  uses: [PERSISTENCE, OUTBOX, ACQUISITION],
  provides: [WRITE_GATE, RULES],
  create: async (ctx) => (await import('./feature-impl.js')).createRulesFeature(ctx),
};
