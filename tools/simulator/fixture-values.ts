/**
 * A library device's documented values as a simulator's starting point: the engineering values of
 * its profile fixture (`device-profiles/fixtures/<id>.yaml`, `expected` points of quality good).
 * They make a simulated library device look like the real one (model codes, rated power, plausible
 * voltages) so `carbonedge scan` recognises it by its identify probes. Generated and static values
 * are laid over them.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { builtinProfileDir } from '../../drivers/profiles/load.js';
import { parseSource } from '../../runtime/config/yaml-source.js';
import type { ImageValues } from './register-image.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The good values of a built-in profile's fixture by point id; undefined without a (readable) fixture. */
export function fixtureValues(profileId: string, dir = builtinProfileDir()): ImageValues | undefined {
  const file = path.join(dir, 'fixtures', `${profileId}.yaml`);
  if (!existsSync(file)) return undefined;
  const parsed = parseSource(readFileSync(file, 'utf8'), file);
  const expected = isRecord(parsed.value) ? parsed.value.expected : undefined;
  if (parsed.syntaxIssues.length || !isRecord(expected)) return undefined;
  const values: ImageValues = {};
  for (const [id, e] of Object.entries(expected)) {
    if (!isRecord(e) || e.quality !== 'good') continue;
    const v = e.value;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') values[id] = v;
  }
  return values;
}
