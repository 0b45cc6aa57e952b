/**
 * JSON Schema fragments shared by the rule kinds' schemas (`kinds/<kind>.ts`) and the control
 * section (`config-schema.ts`). A leaf module: plain data, no imports.
 */

export const id = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$', description: 'identifier: letters, digits, _ . : -' };
export const expr = { type: 'string', minLength: 1, maxLength: 1000, description: 'rule expression (rules/README.md)' };
export const secs = (description: string) => ({ type: 'number', minimum: 0, maximum: 86_400 * 7, description });
export const literal = { type: ['number', 'boolean', 'string'], description: 'value for the output: true/false, a number, or a mode name' };
export const output = { type: 'string', minLength: 1, description: 'device.point, or a device with profile modes' };
export const watts = (description: string) => ({ type: 'number', minimum: 0, maximum: 1e9, description });

/** The timing primitives (TimingConfig). */
export const timing = {
  delayOnS: secs('the on-condition must hold this long before switching on'),
  delayOffS: secs('the off-condition must hold this long before switching off'),
  minOnS: secs('minimum on time'),
  minOffS: secs('minimum off time'),
  minSwitchIntervalS: secs('minimum time between two changes of the output'),
};
/** HysteresisConfig. */
export const hysteresis = {
  type: 'object',
  required: ['input', 'on', 'off'],
  additionalProperties: false,
  properties: { input: expr, on: { type: 'number' }, off: { type: 'number' } },
};
/** CondConfig: when/until or a hysteresis pair. */
export const cond = {
  type: 'object',
  additionalProperties: false,
  properties: { when: expr, until: expr, hysteresis },
};
