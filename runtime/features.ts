import type { FeatureFactory } from './gateway.js';
import { acquisitionFeature } from '../drivers/acquisition.js';
import { storeFeature } from './store/feature.js';
import { uplinkFeature } from './uplink/feature.js';

/**
 * The gateway's features in start order (stopped in reverse): acquisition first, then the
 * store and uplink, accounting, and the rule engine. Each part adds its factory here.
 */
export const FEATURES: FeatureFactory[] = [
  acquisitionFeature,
  storeFeature,
  uplinkFeature,
];
