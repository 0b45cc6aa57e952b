import { Gateway, type FeatureDeclaration, type GatewayOptions } from '../../runtime/gateway.js';
import { FEATURES } from './features.js';
import type { LoadedSite } from './site.js';
import { createLogger, type Logger } from '../../runtime/logger.js';
import { resolveDataDir } from '../../runtime/config/data-dir.js';
import { lockDataDir, type DataDirLock } from '../../runtime/config/data-dir-lock.js';
import { StoreOpenError } from '../../runtime/persistence/open-errors.js';
import { watchHealthy } from './healthy-log.js';

/**
 * Run a gateway in this process until SIGINT/SIGTERM, then stop it within its deadlines.
 * Shared by `carbonedge run` and `carbonedge demo`. `onStarted` runs after start (e.g. to print
 * where the demo's simulators serve); `onStop` after the gateway stopped (e.g. close simulators).
 */
export async function runGatewayProcess(
  site: LoadedSite,
  options: GatewayOptions,
  hooks: { logger?: Logger; features?: readonly FeatureDeclaration[]; onStarted?: (gw: Gateway) => void | Promise<void>; onStop?: () => void | Promise<void> } = {},
): Promise<number> {
  // One gateway per data directory, checked before anything starts: a second one would fight the
  // first over the database and the MQTT client id. Throws a ConfigError naming the holder's pid.
  let lock: DataDirLock;
  try {
    lock = lockDataDir(resolveDataDir(site.config, options.dataDir));
  } catch (err) {
    await hooks.onStop?.();
    throw err;
  }
  const logger = hooks.logger ?? createLogger();
  const gateway = new Gateway({ config: site.config, configFile: site.file, profiles: site.profiles, dlt645Profiles: site.dlt645Profiles, logger, options, features: hooks.features ?? FEATURES });
  let stopping: Promise<void> | undefined;
  let stopHealthy: (() => void) | undefined;
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      logger.info({ signal }, 'stopping');
      stopping = (async () => {
        stopHealthy?.();
        await gateway.stop();
        lock.release();
        await hooks.onStop?.();
      })();
      stopping.then(
        () => resolve(0),
        (err) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  // One device or message must never take the process down; log what escaped and carry on.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection (continuing)'));
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (continuing)'));
  try {
    await gateway.start();
  } catch (err) {
    if (err instanceof StoreOpenError) {
      // One clear line (path, cause, code) from runCommand, no stack trace: nothing was started.
      lock.release();
      await hooks.onStop?.();
      throw err;
    }
    logger.fatal({ err }, 'gateway failed to start');
    lock.release();
    await hooks.onStop?.();
    return 1;
  }
  stopHealthy = watchHealthy(gateway, logger);
  await hooks.onStarted?.(gateway);
  return stopped;
}
