import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { validateWith } from '../runtime/config/ajv-issues.js';
import { schemaValidator } from '../runtime/config/precompiled.js';
import type { ConfigIssue } from '../runtime/config/errors.js';
import type { SiteConfig } from '../runtime/config/types.js';
import type { AnyProfile } from '../drivers/profiles/types.js';
import { compileRules, gatherRules } from './compile-rules.js';
import type { ControlConfig } from './config-types.js';
import { RULE_KINDS } from './kinds/index.js';
import { id, secs } from './schema-parts.js';

const common = {
  id,
  description: { type: 'string' },
  kind: { enum: RULE_KINDS.map((k) => k.kind) },
  priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000, description: 'higher wins on a shared output' },
  enabled: { type: 'boolean' },
};

/** JSON Schema of one rule (any kind). */
export const ruleSchema: Record<string, unknown> = {
  type: 'object',
  required: ['id', 'kind'],
  properties: { ...common },
  allOf: RULE_KINDS.map(({ kind, schema }) => ({
    if: { properties: { kind: { const: kind } }, required: ['kind'] },
    then: { required: schema.required, additionalProperties: false, properties: { ...common, ...schema.properties } },
  })),
};

/** JSON Schema of the `rules` section (an array) of the site config. */
export const rulesConfigSchema: Record<string, unknown> = { type: 'array', maxItems: 2000, items: ruleSchema };

const hhmm = { type: 'string', pattern: '^([01]?[0-9]|2[0-3]):[0-5][0-9]$', description: 'local time HH:MM' };
const hourly = (description: string) => ({ type: 'array', minItems: 24, maxItems: 24, items: { type: 'number' }, description });
const external = (what: string) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    hourly: hourly(`${what} for each local hour 0..23`),
    value: { type: 'number', description: `constant ${what}` },
    pushedMaxAgeS: secs(`a value pushed over the uplink is trusted this long (default 3600)`),
  },
});

/** JSON Schema of the `control` section of the site config. */
export const controlConfigSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', description: 'run the rule engine (default true when rules exist)' },
    tickMs: { type: 'integer', minimum: 100, maximum: 3_600_000, description: 'control period (ms, default 5000)' },
    maxInputAgeMs: { type: 'integer', minimum: 100, maximum: 86_400_000, description: 'inputs older than this are treated as stale' },
    onExit: { enum: ['safe', 'hold'], description: 'on a clean stop: drive outputs to their safe states, or leave them' },
    ruleFiles: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'rule files relative to the config file' },
    carbonIntensity: external('grid carbon intensity, g CO2/kWh'),
    price: external('energy price per kWh'),
    windows: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'from', 'to'],
        additionalProperties: false,
        properties: { id, from: hhmm, to: hhmm, days: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 7 }, description: 'ISO weekdays, 1 = Monday' } },
      },
    },
    schedules: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'initial', 'at'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
          initial: { type: ['number', 'boolean', 'string'] },
          at: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              required: ['cron', 'value'],
              additionalProperties: false,
              properties: { cron: { type: 'string', minLength: 9, maxLength: 100, description: 'node-cron expression' }, value: { type: ['number', 'boolean', 'string'] } },
            },
          },
        },
      },
    },
    gpio: {
      type: 'object',
      required: ['outputs'],
      additionalProperties: false,
      properties: {
        device: id,
        chipLabel: { type: 'string', description: 'label of the GPIO chip (e.g. pinctrl-bcm2711, pinctrl-rp1); default: the first chip that has the line' },
        outputs: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'line'],
            additionalProperties: false,
            properties: { id, line: { type: 'integer', minimum: 0, maximum: 1023 }, activeLow: { type: 'boolean' } },
          },
        },
      },
    },
  },
};

let ruleValidator: ValidateFunction | undefined;
/** Schema-check one rule from a rule file (the config's own `rules:` are checked by the config loader). */
export function validateRuleShape(rule: unknown, file: string, at: string): ConfigIssue[] {
  ruleValidator ??= schemaValidator('rule', ruleSchema);
  return validateWith(ruleValidator, rule, file).map((i) => ({ ...i, path: `${at}${i.path}` }));
}

/** Cross-reference checks (points exist, types, conflicting writers); `file` for messages. */
export function validateRulesConfig(config: SiteConfig, profiles: Map<string, AnyProfile>, file: string): ConfigIssue[] {
  const control = (config.control ?? {}) as ControlConfig;
  const issues: ConfigIssue[] = [];
  const baseDir = file.startsWith('<') ? process.cwd() : path.dirname(path.resolve(file));
  const gathered = gatherRules(config, file, baseDir, validateRuleShape);
  issues.push(...gathered.issues);
  const { issues: ruleIssues } = compileRules(config, profiles, gathered.rules);
  issues.push(...gathered.locate(ruleIssues));
  const gpioDev = control.gpio?.device ?? 'gpio';
  if (control.gpio && config.devices.some((d) => d.id === gpioDev)) {
    issues.push({ file, path: '/control/gpio/device', message: `'${gpioDev}' is also a device id; name the GPIO pseudo-device differently (control.gpio.device)` });
  }
  const seenGpio = new Map<number, string>();
  (control.gpio?.outputs ?? []).forEach((o, i) => {
    const other = seenGpio.get(o.line);
    if (other) issues.push({ file, path: `/control/gpio/outputs/${i}/line`, message: `line ${o.line} is already used by GPIO output '${other}'` });
    seenGpio.set(o.line, o.id);
  });
  (control.schedules ?? []).forEach((s, i) => {
    s.at.forEach((a, j) => {
      if (typeof a.value !== typeof s.initial) issues.push({ file, path: `/control/schedules/${i}/at/${j}/value`, message: `value must have the type of 'initial' (${typeof s.initial})` });
    });
  });
  issues.push(...validateCron(control, file));
  return issues;
}

function validateCron(control: ControlConfig, file: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  (control.schedules ?? []).forEach((s, i) =>
    s.at.forEach((a, j) => {
      const err = cronError(a.cron);
      if (err) issues.push({ file, path: `/control/schedules/${i}/at/${j}/cron`, message: err });
    }),
  );
  return issues;
}

/** A node-cron pattern check without importing node-cron at config-check time: 5 or 6 fields. */
function cronError(pattern: string): string | undefined {
  const fields = pattern.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) return `cron expression '${pattern}' must have 5 fields (minute hour day month weekday) or 6 (with seconds first)`;
  if (!fields.every((f) => /^[0-9A-Za-z*,/-]+$/.test(f))) return `cron expression '${pattern}' has characters node-cron does not accept`;
  return undefined;
}
