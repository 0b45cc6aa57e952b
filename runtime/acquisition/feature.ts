import type { FeatureDeclaration } from '../feature-api.js';
import { ACQUISITION } from './service.js';

export { ACQUISITION, type AcquisitionService } from './service.js';

/**
 * Acquisition: one bus per configured bus, one poller per device, publishing to the readings hub.
 * Owns the core `buses` and `devices` sections (their schema is the site schema's core).
 */
export const acquisitionFeature: FeatureDeclaration = {
  name: 'acquisition',
  provides: [ACQUISITION],
  create: async (ctx) => (ctx.config.devices.length ? (await import('./feature-impl.js')).createAcquisitionFeature(ctx) : null),
};
