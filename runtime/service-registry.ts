/**
 * Typed service registry: how the gateway's features find each other (runtime/feature-api.ts).
 * Keys are declared once, next to the service's interface; no casts at call sites.
 */

/** A typed name of a service. Declare once (next to the service's interface) and share the constant. */
export interface ServiceKey<T> {
  readonly id: string;
  /** Phantom field carrying T (never set). */
  readonly __service?: (value: T) => T;
}

/** Any service key (for lists of keys, where the value type does not matter). */
export interface AnyServiceKey {
  readonly id: string;
}

export function serviceKey<T>(id: string): ServiceKey<T> {
  return { id };
}

/** Services the features offer each other, by typed key. */
export class ServiceRegistry {
  private readonly values = new Map<string, unknown>();
  private readonly providers = new Map<string, string>();

  /** Offer `value` under `key`. A key is provided once: a second provider is a wiring error. */
  provide<T>(key: ServiceKey<T>, value: T, by = 'gateway'): void {
    const holder = this.providers.get(key.id);
    if (holder !== undefined) throw new Error(`service '${key.id}' is already provided by '${holder}' (second provider: '${by}')`);
    this.values.set(key.id, value);
    this.providers.set(key.id, by);
  }

  /** Offer `value` under `key`, replacing what was there (a service that was closed and reopened). */
  replace<T>(key: ServiceKey<T>, value: T, by = 'gateway'): void {
    this.values.set(key.id, value);
    this.providers.set(key.id, by);
  }

  get<T>(key: ServiceKey<T>): T | undefined {
    // The only place the registry's values are narrowed: provide() accepted a T for this key.
    return this.values.get(key.id) as T | undefined;
  }

  /** The service, or an error naming who needs it and that no enabled feature provides it. */
  require<T>(key: ServiceKey<T>, by: string): T {
    if (!this.values.has(key.id)) {
      throw new Error(`feature '${by}' requires service '${key.id}', which no feature started before it provides`);
    }
    return this.get(key) as T;
  }

  has(key: AnyServiceKey): boolean {
    return this.values.has(key.id);
  }

  /** Provided service ids with their provider (diagnostics). */
  list(): { id: string; by: string }[] {
    return [...this.providers].map(([id, by]) => ({ id, by }));
  }
}
