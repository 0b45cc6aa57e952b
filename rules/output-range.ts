/**
 * Whether a value can be written to an output as its device profile describes it: within the
 * point's min/max and representable by its register type after scale and offset: the checks the
 * write path makes (drivers/modbus/codec.ts `fromEngineering`). Run before an override is
 * accepted, so a value the device can never take is refused with the reason, instead of being
 * answered "ok" and then failing at every write for the whole override.
 */
import { fromEngineering } from '../drivers/modbus/codec.js';
import { isDlt645Point } from '../drivers/profiles/types.js';
import type { OutputRef, SiteModel } from './site-model.js';

/** Why `value` cannot be written to `out` (a point output), or undefined when it can. */
export function outputValueProblem(model: SiteModel, out: OutputRef, value: number | boolean | string): string | undefined {
  if (out.point === undefined || out.gpio || typeof value !== 'number') return undefined; // modes and on/off: checkLiteral
  const p = model.findPoint(out.device, out.point);
  if (!p) return undefined;
  const profile = model.profileOf(out.device)?.id ?? '?';
  const name = `${out.device}.${p.id}`;
  const unit = p.unit ? ` ${p.unit}` : '';
  const range = `profile ${profile}: ${p.min ?? '-inf'}..${p.max ?? '+inf'}${unit}`;
  if (!Number.isFinite(value)) return `${name} = ${value} is not a finite number`;
  if (p.min !== undefined && value < p.min) return `${name} = ${value} is below the minimum ${p.min}${unit} (${range})`;
  if (p.max !== undefined && value > p.max) return `${name} = ${value} is above the maximum ${p.max}${unit} (${range})`;
  // A SunSpec-style scale factor is read from the device at write time: min/max is all we can check here.
  if (isDlt645Point(p) || p.scaleFactorPoint !== undefined) return undefined;
  try {
    fromEngineering(p, value);
  } catch (err) {
    return `${name} = ${value} cannot be written: ${err instanceof Error ? err.message : String(err)} (${p.register} register, ${p.type})`;
  }
  return undefined;
}
