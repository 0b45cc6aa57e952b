/** The rule engine feature's implementation (declaration and docs: ./feature.ts). */
import path from 'node:path';
import type { Feature, GatewayContext } from '../runtime/feature-api.js';
import { section } from '../runtime/feature-api.js';
import { OUTBOX } from '../runtime/services.js';
import { sharedPersistence } from '../runtime/persistence/shared.js';
import { ACQUISITION } from '../runtime/acquisition/service.js';
import { ConfigError } from '../runtime/config/errors.js';
import { WriteGate } from '../runtime/control/write-gate.js';
import { GpioWriteBackend, ModbusWriteBackend, type PointWriter } from '../runtime/control/backends.js';
import { DecisionLog, DecisionLogRepository } from '../runtime/control/decision-log.js';
import { MemoryOverrides, SqliteOverrides, type OverrideStore } from '../runtime/control/overrides.js';
import { OnoffRelay, type RelayOutput } from '../drivers/gpio/relay.js';
import { compileRules, DEFAULT_TICK_MS, gatherRules } from './compile-rules.js';
import { validateRuleShape } from './config-schema.js';
import { RuleEngine } from './engine.js';
import { hubTickTime } from './tick-time.js';
import { monoNow } from '../runtime/types.js';
import { ScheduleVariables } from './schedules.js';
import type { ControlConfig } from './types.js';
import { applyRulesCommand, rulesCommand, type RulesCommand } from './commands.js';
import { RULES, WRITE_GATE, type RulesService } from './service.js';
import { LIVENESS } from '../runtime/supervision/liveness.js';

export function createRulesFeature(ctx: GatewayContext): Feature | null {
  const control = section<ControlConfig>(ctx.config, 'control') ?? {};
  const log = ctx.logger.child({ feature: 'rules' });
  // The site database when a part opened it (the store, which stops after the rules): decisions and overrides are kept there.
  const persistence = sharedPersistence(ctx.services)?.persistence;
  const outbox = ctx.services.get(OUTBOX);
  const gate = new WriteGate({ dryRun: !!ctx.config.gateway.dryRun, logger: log, clock: ctx.clock, sinks: [new DecisionLog(persistence && new DecisionLogRepository(persistence), outbox)] });
  const acquisition: PointWriter | undefined = ctx.services.get(ACQUISITION);
  if (acquisition) gate.addBackend(new ModbusWriteBackend(acquisition, ctx.config, ctx.profiles));
  ctx.services.provide(WRITE_GATE, gate, 'rules');

  const relays = new Map<string, RelayOutput>();
  const gpioDevice = control.gpio?.device ?? 'gpio';
  const baseDir = ctx.configFile && !ctx.configFile.startsWith('<') ? path.dirname(path.resolve(ctx.configFile)) : process.cwd();
  const gathered = gatherRules(ctx.config, ctx.configFile ?? '<config>', baseDir, validateRuleShape);
  const compiled = compileRules(ctx.config, ctx.profiles, gathered.rules);
  const issues = [...gathered.issues, ...compiled.issues];
  if (issues.length) throw new ConfigError(issues);
  if (control.enabled === false || (!compiled.rules.length && !control.gpio)) {
    log.info({ rules: compiled.rules.length, enabled: control.enabled !== false }, 'rule engine not started (no rules, or control.enabled false)');
    ctx.commands.register(rulesCommand(undefined, ctx.clock));
    return null;
  }

  const overrides: OverrideStore = persistence ? new SqliteOverrides(persistence) : new MemoryOverrides();
  const schedules = new ScheduleVariables(control, ctx.config.site.timezone);
  const engine = new RuleEngine({ model: compiled.model, rules: compiled.rules, writer: gate, logger: log, overrides, schedules: schedules.values });
  const tickMs = control.tickMs ?? DEFAULT_TICK_MS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  const beat = ctx.services.get(LIVENESS)?.loop('control');

  const service: RulesService = {
    engine,
    overrides,
    setOverride: (o) => overrides.set(o, ctx.clock.now()),
    clearOverride: (output) => overrides.clear(output),
    pushInput: (name, value, validUntil) => engine.external.push(name, value, ctx.clock.now(), validUntil, monoNow(ctx.clock)),
    command: (cmd) => applyRulesCommand(cmd as RulesCommand, { engine, overrides, now: ctx.clock.now(), mono: monoNow(ctx.clock) }),
  };
  ctx.services.provide(RULES, service, 'rules');
  ctx.commands.register(rulesCommand(service, ctx.clock));

  const tick = () => {
    if (running) return;
    running = engine
      .tick(ctx.hub.snapshot(), ctx.clock.now(), hubTickTime(ctx.clock, ctx.hub))
      .catch((err) => log.error({ err }, 'control tick failed'))
      .finally(() => {
        running = undefined;
        beat?.beat(tickMs);
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
      beat?.beat(tickMs);
      timer = setInterval(tick, tickMs);
      log.info(
        { rules: compiled.rules.map((r) => `${r.id} (${r.kind}, priority ${r.priority})`), tickMs, dryRun: gate.dryRun, gpio: [...relays.keys()], onExit: control.onExit ?? 'safe' },
        'rule engine started',
      );
    },
    async stop() {
      if (timer) clearInterval(timer);
      beat?.close();
      await running;
      if ((control.onExit ?? 'safe') === 'safe') {
        const changes = await engine.exit(ctx.hub.snapshot(), ctx.clock.now(), hubTickTime(ctx.clock, ctx.hub));
        log.info({ changes: changes.length }, 'outputs driven to their safe states on stop');
      }
      await schedules.stop();
      for (const r of relays.values()) r.close();
    },
  };
}
