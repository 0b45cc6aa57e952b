import type { AnyProfile } from '../drivers/profiles/types.js';
import { resolveDataDir } from './config/data-dir.js';
import type { SiteConfig } from './config/types.js';
import {
  CommandRegistry,
  ServiceRegistry,
  type Feature,
  type FeatureDeclaration,
  type GatewayContext,
  type GatewayOptions,
} from './feature-api.js';
import type { Logger } from './logger.js';
import { acquirePersistence, type PersistenceHandle } from './persistence/shared.js';
import { ReadingsHub } from './readings-hub.js';
import { systemClock } from './types.js';

export type { Feature, FeatureDeclaration, GatewayContext, GatewayOptions } from './feature-api.js';

const STOP_DEADLINE_MS = 5000;

/**
 * The gateway: creates the features it is given, in order (each may require services of the
 * ones before it), starts them, and stops them in reverse order within a deadline each. It knows
 * no feature by name: the composition root (tools/cli/features.ts) passes the list.
 */
export class Gateway {
  readonly ctx: GatewayContext;
  private readonly started: Feature[] = [];
  private readonly features: readonly FeatureDeclaration[];
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(args: {
    config: SiteConfig;
    configFile?: string;
    profiles: Map<string, AnyProfile>;
    logger: Logger;
    options?: GatewayOptions;
    features: readonly FeatureDeclaration[];
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
      services: new ServiceRegistry(),
      commands: new CommandRegistry(),
      database: () => this.database(),
    };
    this.features = args.features;
  }

  /** ctx.database(): the site database with every listed feature's migrations (loaded on first use). */
  private async database(): Promise<PersistenceHandle> {
    const { openPersistence } = await import('./persistence/database.js');
    const { ctx } = this;
    const migrations = this.features.map((f) => f.migrations ?? []);
    return acquirePersistence(ctx.services, () => openPersistence(ctx.dataDir, migrations, ctx.logger.child({ part: 'persistence' }), { now: ctx.clock.now() }));
  }

  async start(): Promise<void> {
    const { ctx } = this;
    for (const d of ctx.config.devices) {
      ctx.hub.setStaleAfter(d.id, d.staleAfterMs ?? ctx.config.gateway.staleAfterMs ?? 3 * d.pollIntervalMs);
    }
    try {
      for (const decl of this.features) {
        const missing = (decl.requires ?? []).filter((key) => !ctx.services.has(key));
        if (missing.length) {
          throw new Error(`feature '${decl.name}' requires ${missing.map((k) => `service '${k.id}'`).join(', ')}, which no feature listed before it provides`);
        }
        const feature = await decl.create(ctx);
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
