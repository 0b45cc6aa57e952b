import type { FeatureDeclaration } from '../feature-api.js';
import { OUTBOX } from '../services.js';
import { METERING } from '../metering/service.js';
import { storeConfigSchema, validateStoreConfig } from './config-schema.js';
import { STORE_MIGRATIONS } from './migrations.js';
import { STORE } from './service.js';

export { STORE } from './service.js';

/**
 * The store feature: opens `<dataDir>/carbonedge.db`, buffers every reading batch from the hub,
 * and offers services `store` (Store) and `outbox` (the store's outbox, an OutboxWriter).
 */
export const storeFeature: FeatureDeclaration = {
  name: 'store',
  sections: [{ key: 'store', schema: storeConfigSchema }],
  check: validateStoreConfig,
  migrations: STORE_MIGRATIONS,
  uses: [METERING],
  provides: [STORE, OUTBOX],
  create: async (ctx) => (await import('./feature-impl.js')).createStoreFeature(ctx),
};
