import type { Logger } from './logger.js';
import type { SiteConfig } from './config/types.js';
import type { Profile } from '../drivers/profiles/types.js';
import { ReadingsHub } from './readings-hub.js';
import type { Clock } from './types.js';
import { systemClock } from './types.js';
import { FEATURES } from './features.js';
import { resolveDataDir } from './config/data-dir.js';

/** What every feature of the gateway is given. */
export interface GatewayContext {
  config: SiteConfig;
  /** Path of the site config file (for messages); undefined for built-in configs. */
  configFile?: string;
  logger: Logger;
  hub: ReadingsHub;
  /** Profiles by id, loaded and validated before start. */
  profiles: Map<string, Profile>;
  /** Directory of the store and state files. */
  dataDir: string;
  clock: Clock;
  /** Command-line overrides (e.g. --uplink URL). */
  options: GatewayOptions;
  /**
   * Services features offer each other, by name: `acquisition`, `store`, `outbox`, `uplink`,
   * `writeGate`, `accounting`, `rules`. Registered in start order (see FEATURES).
   */
  services: Map<string, unknown>;
}

export interface GatewayOptions {
  uplinkUrl?: string;
  dataDir?: string;
  dryRun?: boolean;
  clock?: Clock;
}

/** A part of the running gateway with a lifecycle (acquisition, store, uplink, accounting, rules). */
export interface Feature {
  readonly name: string;
  start(): Promise<void>;
  /** Must finish within a few seconds; the gateway gives every feature a close deadline. */
  stop(): Promise<void>;
}

export type FeatureFactory = (ctx: GatewayContext) => Feature | null | Promise<Feature | null>;


const STOP_DEADLINE_MS = 5000;

export class Gateway {
  readonly ctx: GatewayContext;
  private readonly started: Feature[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(args: {
    config: SiteConfig;
    configFile?: string;
    profiles: Map<string, Profile>;
    logger: Logger;
    options?: GatewayOptions;
    features?: FeatureFactory[];
  }) {
    const options = args.options ?? {};
    const clock = options.clock ?? systemClock;
    const dataDir = resolveDataDir(args.config, options.dataDir);
    const config: SiteConfig =
      options.dryRun === undefined ? args.config : { ...args.config, gateway: { ...args.config.gateway, dryRun: options.dryRun } };
    this.ctx = {
      config,
      configFile: args.configFile,
      logger: args.logger,
      hub: new ReadingsHub({ clock, logger: args.logger }),
      profiles: args.profiles,
      dataDir,
      clock,
      options,
      services: new Map(),
    };
    this.factories = args.features ?? FEATURES;
  }

  private readonly factories: FeatureFactory[];

  async start(): Promise<void> {
    const { ctx } = this;
    for (const d of ctx.config.devices) {
      ctx.hub.setStaleAfter(d.id, d.staleAfterMs ?? ctx.config.gateway.staleAfterMs ?? 3 * d.pollIntervalMs);
    }
    try {
      for (const factory of this.factories) {
        const feature = await factory(ctx);
        if (!feature) continue;
        await feature.start();
        this.started.push(feature);
        ctx.logger.debug({ feature: feature.name }, 'feature started');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.sweepTimer = setInterval(() => ctx.hub.sweep(), 1000);
    this.sweepTimer.unref();
    ctx.logger.info(
      { site: ctx.config.site.id, gateway: ctx.config.gateway.id, features: this.started.map((f) => f.name), dryRun: !!ctx.config.gateway.dryRun },
      'gateway started',
    );
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    while (this.started.length) {
      const f = this.started.pop()!;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          f.stop(),
          new Promise<void>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not stop within ${STOP_DEADLINE_MS} ms`)), STOP_DEADLINE_MS);
          }),
        ]);
      } catch (err) {
        this.ctx.logger.error({ err, feature: f.name }, 'feature stop failed');
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
  }
}
