import type { Feature, FeatureFactory } from '../gateway.js';
import { acquireSiteDatabase } from '../site-database.js';
import type { StoreConfig } from './config-schema.js';
import { Store } from './store.js';

/**
 * The store feature: opens `<dataDir>/carbonedge.db`, buffers every reading batch from the hub,
 * and offers services `store` (Store) and `outbox` (the store's outbox, an OutboxWriter).
 */
export const storeFeature: FeatureFactory = (ctx) => {
  const log = ctx.logger.child({ feature: 'store' });
  const database = acquireSiteDatabase({ ...ctx, logger: log });
  const store = new Store({
    dataDir: ctx.dataDir,
    persistence: database.persistence,
    siteId: ctx.config.site.id,
    gatewayId: ctx.config.gateway.id,
    config: ctx.config.store as StoreConfig | undefined,
    clock: ctx.clock,
    logger: log,
  });
  ctx.services.set('store', store);
  ctx.services.set('outbox', store.outbox);
  let unsubscribe: (() => void) | undefined;
  const feature: Feature = {
    name: 'store',
    async start() {
      unsubscribe = ctx.hub.subscribe((batch) => store.ingest(batch));
      store.start();
      log.info({ file: store.file, maxBytes: store.config.maxBytes, recoveredFromCorruption: !!store.corruption }, 'store open');
    },
    async stop() {
      unsubscribe?.();
      store.close();
      database.release();
    },
  };
  return feature;
};
