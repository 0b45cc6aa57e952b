/**
 * The rule engine as a gateway feature. Registers service `writeGate` (the only path to
 * device writes: Modbus through `acquisition.writePoint`, GPIO relays) and service `rules`
 * (overrides, pushed carbon intensity / price, uplink commands). Runs the control loop every
 * `control.tickMs` on one snapshot of the readings hub.
 *
 * Outputs on exit: a clean stop (SIGTERM, SIGINT) drives every output to its rule's safe state
 * (control.onExit: safe, the default) or leaves it as it is (hold). After a crash or power loss
 * the devices keep the last value written (Modbus registers, GPIO levels): give devices their
 * own fallback (e.g. a battery's communication watchdog) and wire relays fail-safe.
 */
import path from 'node:path';
import type { Feature, FeatureFactory, GatewayContext } from '../runtime/gateway.js';
import type { OutboxWriter } from '../runtime/services.js';
import { ConfigError } from '../runtime/config/errors.js';
import { WriteGate } from '../runtime/control/write-gate.js';
import { GpioWriteBackend, ModbusWriteBackend, type PointWriter } from '../runtime/control/backends.js';
import { DecisionLog, DecisionLogRepository } from '../runtime/control/decision-log.js';
import { sharedPersistence } from '../runtime/persistence/shared.js';
import { MemoryOverrides, SqliteOverrides, type OverrideStore } from '../runtime/control/overrides.js';
import { OnoffRelay, type RelayOutput } from '../drivers/gpio/relay.js';
import { compileRules, DEFAULT_TICK_MS, gatherRules } from './compile-rules.js';
import { validateRuleShape } from './config-schema.js';
import { RuleEngine, type Override } from './engine.js';
import { ScheduleVariables } from './schedules.js';
import type { ControlConfig } from './types.js';
import { applyRulesCommand, type RulesCommand } from './commands.js';

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

export const rulesFeature: FeatureFactory = (ctx: GatewayContext): Feature | null => {
  const control = (ctx.config.control ?? {}) as ControlConfig;
  const log = ctx.logger.child({ feature: 'rules' });
  // The site database when the store opened it (it stops after the rules): decisions and overrides are kept there.
  const persistence = sharedPersistence(ctx)?.persistence;
  const outbox = ctx.services.get('outbox') as OutboxWriter | undefined;
  const gate = new WriteGate({ dryRun: !!ctx.config.gateway.dryRun, logger: log, clock: ctx.clock, sinks: [new DecisionLog(persistence && new DecisionLogRepository(persistence), outbox)] });
  const acquisition = ctx.services.get('acquisition') as PointWriter | undefined;
  if (acquisition) gate.addBackend(new ModbusWriteBackend(acquisition, ctx.config, ctx.profiles));
  ctx.services.set('writeGate', gate);

  const relays = new Map<string, RelayOutput>();
  const gpioDevice = control.gpio?.device ?? 'gpio';
  const baseDir = ctx.configFile && !ctx.configFile.startsWith('<') ? path.dirname(path.resolve(ctx.configFile)) : process.cwd();
  const gathered = gatherRules(ctx.config, ctx.configFile ?? '<config>', baseDir, validateRuleShape);
  const compiled = compileRules(ctx.config, ctx.profiles, gathered.rules);
  const issues = [...gathered.issues, ...compiled.issues];
  if (issues.length) throw new ConfigError(issues);
  if (control.enabled === false || (!compiled.rules.length && !control.gpio)) {
    log.info({ rules: compiled.rules.length, enabled: control.enabled !== false }, 'rule engine not started (no rules, or control.enabled false)');
    return null;
  }

  const overrides: OverrideStore = persistence ? new SqliteOverrides(persistence) : new MemoryOverrides();
  const schedules = new ScheduleVariables(control, ctx.config.site.timezone);
  const engine = new RuleEngine({ model: compiled.model, rules: compiled.rules, writer: gate, logger: log, overrides, schedules: schedules.values });
  const tickMs = control.tickMs ?? DEFAULT_TICK_MS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  const service: RulesService = {
    engine,
    overrides,
    setOverride: (o) => overrides.set(o, ctx.clock.now()),
    clearOverride: (output) => overrides.clear(output),
    pushInput: (name, value, validUntil) => engine.external.push(name, value, ctx.clock.now(), validUntil),
    command: (cmd) => applyRulesCommand(cmd as RulesCommand, { engine, overrides, now: ctx.clock.now() }),
  };
  ctx.services.set('rules', service);

  const tick = () => {
    if (running) return;
    running = engine
      .tick(ctx.hub.snapshot(), ctx.clock.now())
      .catch((err) => log.error({ err }, 'control tick failed'))
      .finally(() => {
        running = undefined;
      });
  };

  return {
    name: 'rules',
    async start() {
      for (const o of control.gpio?.outputs ?? []) {
        relays.set(o.id, new OnoffRelay(o.id, o.line, { activeLow: o.activeLow, chipLabel: control.gpio?.chipLabel }));
      }
      if (relays.size) gate.addBackend(new GpioWriteBackend(gpioDevice, relays));
      await schedules.start(ctx.clock.now());
      timer = setInterval(tick, tickMs);
      log.info(
        { rules: compiled.rules.map((r) => `${r.id} (${r.kind}, priority ${r.priority})`), tickMs, dryRun: gate.dryRun, gpio: [...relays.keys()], onExit: control.onExit ?? 'safe' },
        'rule engine started',
      );
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running;
      if ((control.onExit ?? 'safe') === 'safe') {
        const changes = await engine.exit(ctx.hub.snapshot(), ctx.clock.now());
        log.info({ changes: changes.length }, 'outputs driven to their safe states on stop');
      }
      await schedules.stop();
      for (const r of relays.values()) r.close();
    },
  };
};
