import type { FeatureFactory } from './gateway.js';
import { acquisitionFeature } from '../drivers/acquisition.js';

/**
 * The gateway's features in start order (stopped in reverse): acquisition first, then the
 * store and uplink, accounting, and the rule engine. Each part adds its factory here.
 */
export const FEATURES: FeatureFactory[] = [
  acquisitionFeature,
];
