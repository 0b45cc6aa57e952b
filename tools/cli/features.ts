/**
 * The composition root's list of features, in start order (stopped in reverse). The metering
 * stage comes first (store and accounting consume its events); consumers of readings (store,
 * uplink, accounting) start before acquisition so the first poll is never missed; the rule engine
 * starts last (it needs acquisition's writes) and stops first.
 *
 * The site config schema and its checks are derived from this list (tools/cli/site.ts); each
 * declaration loads its feature's modules only when the feature is enabled.
 */
import type { FeatureDeclaration } from '../../runtime/feature-api.js';
import { acquisitionFeature } from '../../runtime/acquisition/feature.js';
import { meteringFeature } from '../../runtime/metering/feature.js';
import { storeFeature } from '../../runtime/store/feature.js';
import { uplinkFeature } from '../../runtime/uplink/feature.js';
import { accountingFeature } from '../../runtime/accounting/feature.js';
import { rulesFeature } from '../../rules/feature.js';
import { httpFeature } from '../../runtime/http/feature.js';

export const FEATURES: readonly FeatureDeclaration[] = [meteringFeature, storeFeature, uplinkFeature, accountingFeature, acquisitionFeature, rulesFeature, httpFeature];
