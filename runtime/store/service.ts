import { serviceKey } from '../service-registry.js';
import type { Store } from './store.js';

/** The store (SQLite buffer, aggregates, outbox): `<dataDir>/carbonedge.db`. */
export const STORE = serviceKey<Store>('store');
