import type { Feature, GatewayContext } from '../feature-api.js';
import { section } from '../feature-api.js';
import { OUTBOX } from '../services.js';
import { METERING } from '../metering/service.js';
import type { StoreConfig } from './config-schema.js';
import { STORE } from './service.js';
import { Store } from './store.js';
import { LIVENESS } from '../supervision/liveness.js';

/** Open `<dataDir>/carbonedge.db`, buffer every reading batch from the hub; services `store` and `outbox`. */
export async function createStoreFeature(ctx: GatewayContext): Promise<Feature> {
  const log = ctx.logger.child({ feature: 'store' });
  const database = await ctx.database();
  const metering = ctx.services.get(METERING);
  const store = new Store({
    ...(metering ? { metering: metering.stage } : {}),
    dataDir: ctx.dataDir,
    persistence: database.persistence,
    siteId: ctx.config.site.id,
    gatewayId: ctx.config.gateway.id,
    config: section<StoreConfig>(ctx.config, 'store'),
    clock: ctx.clock,
    logger: log,
    liveness: ctx.services.get(LIVENESS)?.loop('store'),
  });
  ctx.services.provide(STORE, store, 'store');
  ctx.services.provide(OUTBOX, store.outbox, 'store');
  let unsubscribe: (() => void) | undefined;
  return {
    name: 'store',
    async start() {
      // Readings with the metering stage's counter deltas (the hub directly on a gateway without one).
      unsubscribe = metering ? metering.subscribe((batch, events) => store.ingest(batch, events)) : ctx.hub.subscribe((batch) => store.ingest(batch));
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
