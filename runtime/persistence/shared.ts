import type { Persistence } from './database.js';

/** The service name under which the gateway's parts share one database. */
export const PERSISTENCE_SERVICE = 'persistence';

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

type Services = { services: Map<string, unknown> };

/** The shared database if a part already opened it. */
export function sharedPersistence(ctx: Services): SharedPersistence | undefined {
  const s = ctx.services.get(PERSISTENCE_SERVICE);
  return s instanceof SharedPersistence && s.persistence.isOpen ? s : undefined;
}

/** Take a hold on the shared database, opening it with `open` if no part has yet. */
export function acquirePersistence(ctx: Services, open: () => Persistence): PersistenceHandle {
  let shared = sharedPersistence(ctx);
  if (!shared) {
    shared = new SharedPersistence(open());
    ctx.services.set(PERSISTENCE_SERVICE, shared);
  }
  return shared.acquire();
}
