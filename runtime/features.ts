import type { FeatureFactory } from './gateway.js';
import { acquisitionFeature } from '../drivers/acquisition.js';
import { storeFeature } from './store/feature.js';
import { uplinkFeature } from './uplink/feature.js';
import { accountingFeature } from './accounting/feature.js';
import { rulesFeature } from '../rules/feature.js';

/**
 * The gateway's features in start order (stopped in reverse). Consumers of readings (store,
 * uplink, accounting) start before acquisition so the first poll is never missed; the rule
 * engine starts last (it needs acquisition's writes) and stops first.
 */
export const FEATURES: FeatureFactory[] = [
  storeFeature,
  uplinkFeature,
  accountingFeature,
  acquisitionFeature,
  rulesFeature,
];
