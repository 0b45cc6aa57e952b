import type { ConfigIssue } from '../../runtime/config/errors.js';
import { isDataIdentifier, isValueFormat, parseFormat } from '../dlt645/values.js';
import { variantOf } from '../dlt645/variant.js';
import { CANONICAL, isCanonical } from './canonical.js';
import type { Dlt645Profile } from './types.js';

/** Semantic checks on a schema-valid DL/T 645 profile: what the schema cannot express. */
export function dlt645SemanticIssues(profile: Dlt645Profile, file: string, expectedId?: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // The same code as the Modbus profile checks (drivers/profiles/load.ts): a schema-valid value the profile does not allow.
  const add = (p: string, message: string) => issues.push({ file, path: p, code: 'CE_CONFIG_INVALID', message });
  if (expectedId !== undefined && profile.id !== expectedId) add('/id', `expected the profile id to equal the file name '${expectedId}', got '${profile.id}'`);
  const ids = new Map<string, number>();
  const dis = new Map<string, number>();
  const variant = variantOf(profile.protocol);
  profile.points.forEach((p, i) => {
    const at = `/points/${i}`;
    const first = ids.get(p.id);
    if (first !== undefined) add(`${at}/id`, `duplicate point id '${p.id}' (also /points/${first})`);
    else ids.set(p.id, i);
    const di = p.di.toUpperCase();
    if (!isDataIdentifier(di, variant.diBytes)) {
      const [digits, bytes] = variant.diBytes === 4 ? ['8 hex digits (DI3 DI2 DI1 DI0, e.g. 00010000)', 4] : ['4 hex digits (DI1 DI0, e.g. 9010)', 2];
      add(`${at}/di`, `a ${variant.standard} data identifier is ${bytes} bytes: expected ${digits} for protocol ${profile.protocol}, got '${p.di}' (${p.di.length / 2} bytes)`);
    }
    const same = dis.get(di);
    if (same !== undefined) add(`${at}/di`, `data identifier ${di} is already read by /points/${same}`);
    else dis.set(di, i);
    if (!isValueFormat(p.format)) add(`${at}/format`, `expected an even number of X digits with an optional point (e.g. XXXXXX.XX, XX.XXXX), got '${p.format}'`);
    else if (parseFormat(p.format).bytes > 8) add(`${at}/format`, `a value of more than 8 bytes is not supported, got '${p.format}'`);
    if (p.scale === 0) add(`${at}/scale`, 'expected a non-zero scale, got 0');
    if (p.min !== undefined && p.max !== undefined && p.min > p.max) add(`${at}/max`, `expected max >= min (${p.min}), got ${p.max}`);
    if (p.canonical !== undefined) {
      if (!isCanonical(p.canonical)) add(`${at}/canonical`, `'${p.canonical}' is not in the canonical vocabulary (device-profiles/README.md)`);
      else if ((p.unit ?? CANONICAL[p.canonical]!.unit) !== CANONICAL[p.canonical]!.unit) {
        add(`${at}/unit`, `canonical '${p.canonical}' is in '${CANONICAL[p.canonical]!.unit}', got '${p.unit}' (scale the point to the canonical unit)`);
      }
    }
  });
  return issues;
}

/** Defaults so the poller sees explicit values: a canonical point's unit, `read` access. */
export function applyDlt645Defaults(profile: Dlt645Profile, file: string): Dlt645Profile {
  return {
    ...profile,
    file,
    points: profile.points.map((p) => ({
      ...p,
      access: 'read',
      ...(p.unit === undefined && p.canonical !== undefined && isCanonical(p.canonical) ? { unit: CANONICAL[p.canonical]!.unit } : {}),
    })),
  };
}
