import type { Feature, GatewayContext } from '../feature-api.js';
import { section } from '../feature-api.js';
import { OUTBOX } from '../services.js';
import type { StoreConfig } from './config-schema.js';
import { STORE } from './service.js';
import { Store } from './store.js';

/** Open `<dataDir>/carbonedge.db`, buffer every reading batch from the hub; services `store` and `outbox`. */
export async function createStoreFeature(ctx: GatewayContext): Promise<Feature> {
  const log = ctx.logger.child({ feature: 'store' });
  const database = await ctx.database();
  const store = new Store({
    dataDir: ctx.dataDir,
    persistence: database.persistence,
    siteId: ctx.config.site.id,
    gatewayId: ctx.config.gateway.id,
    config: section<StoreConfig>(ctx.config, 'store'),
    clock: ctx.clock,
    logger: log,
  });
  ctx.services.provide(STORE, store, 'store');
  ctx.services.provide(OUTBOX, store.outbox, 'store');
  let unsubscribe: (() => void) | undefined;
  return {
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
}
