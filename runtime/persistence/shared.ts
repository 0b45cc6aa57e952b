import { serviceKey, type ServiceRegistry } from '../service-registry.js';
import type { Persistence } from './database.js';

/**
 * One database shared by every part of the gateway that needs it: opened by the first part that
 * asks, closed when the last one releases it (parts stop in reverse start order).
 */
export class SharedPersistence {
  private refs = 0;
  constructor(readonly persistence: Persistence) {}

  acquire(): { persistence: Persistence; release: () => void } {
    this.refs++;
    let released = false;
    return {
      persistence: this.persistence,
      release: () => {
        if (released) return;
        released = true;
        if (--this.refs === 0) this.persistence.close();
      },
    };
  }
}

export interface PersistenceHandle {
  persistence: Persistence;
  /** Release this part's hold; the last release closes the database. */
  release(): void;
}

/** The gateway's one database, shared by its parts (opened by the first that asks: GatewayContext.database()). */
export const PERSISTENCE = serviceKey<SharedPersistence>('persistence');

/** The shared database if a part already opened it. */
export function sharedPersistence(services: ServiceRegistry): SharedPersistence | undefined {
  const s = services.get(PERSISTENCE);
  return s?.persistence.isOpen ? s : undefined;
}

/** Take a hold on the shared database, opening it with `open` if no part has yet. */
export function acquirePersistence(services: ServiceRegistry, open: () => Persistence): PersistenceHandle {
  const shared = sharedPersistence(services);
  if (shared) return shared.acquire();
  const fresh = new SharedPersistence(open());
  // A closed database's holder is replaced (the last part released it; another part reopens it).
  services.replace(PERSISTENCE, fresh, 'persistence');
  return fresh.acquire();
}
