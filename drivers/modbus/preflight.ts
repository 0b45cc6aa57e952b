/**
 * The profile a device is read with: the configured one, or for a `discover: sunspec` profile the
 * one generated from the device's SunSpec model chain (drivers/sunspec/), discovered at start and
 * again after the device was unreachable or failed the model check.
 */
import type { Logger } from '../../runtime/logger.js';
import type { Profile } from '../profiles/types.js';
import { discoverSunSpec, type HoldingReader } from '../sunspec/discover.js';
import { sunspecProfile } from '../sunspec/profile.js';

export async function resolveProfile(configured: Profile, current: Profile, read: HoldingReader, log: Logger): Promise<Profile> {
  if (configured.discover !== 'sunspec') return current;
  const chain = await discoverSunSpec(read);
  const profile = sunspecProfile(configured, chain);
  log.info(
    {
      base: chain.base,
      models: chain.models.map((m) => m.id),
      manufacturer: chain.common?.manufacturer,
      model: chain.common?.model,
      serial: chain.common?.serial,
      version: chain.common?.version,
      points: profile.points.filter((p) => p.poll !== false).length,
      canonical: profile.points.filter((p) => p.canonical).map((p) => p.canonical),
    },
    'SunSpec device discovered',
  );
  return profile;
}
