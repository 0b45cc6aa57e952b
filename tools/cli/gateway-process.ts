import { Gateway, type FeatureDeclaration, type GatewayOptions } from '../../runtime/gateway.js';
import { FEATURES } from './features.js';
import type { LoadedSite } from './site.js';
import { createLogger, type Logger } from '../../runtime/logger.js';
import { resolveDataDir } from '../../runtime/config/data-dir.js';
import { lockDataDir, type DataDirLock } from '../../runtime/config/data-dir-lock.js';
import { StoreOpenError } from '../../runtime/persistence/open-errors.js';
import { readFileSync } from 'node:fs';
import { systemClock } from '../../runtime/types.js';
import { loadSiteConfigText } from './site.js';
import { RemoteConfig } from './remote-config.js';
import { DEFAULT_GRACE_MS, LIVENESS, LivenessRegistry } from '../../runtime/supervision/liveness.js';
import { createSystemdNotifier } from '../../runtime/supervision/sd-notify.js';
import { launchedByNpm, watchParent } from '../../runtime/supervision/parent-watch.js';
import { EXIT } from './exit-codes.js';

/** The whole stop (store flush, offline status, outputs to their safe state) must end within this. */
export const STOP_DEADLINE_MS = 25_000;
/** After a clean stop, exit even if a stray handle would keep the event loop alive. */
const EXIT_GRACE_MS = 2000;

/** A positive number of milliseconds from the environment, else `fallback`. */
function envMs(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
import { watchHealthy } from './healthy-log.js';

/**
 * Run a gateway in this process until SIGINT/SIGTERM (or, launched by npm, until its parent
 * goes away), then stop it within a deadline; a second signal or the deadline forces the exit
 * (exit code 70, tools/cli/exit-codes.ts). Under systemd (NOTIFY_SOCKET) it tells the manager
 * READY/STOPPING and feeds the watchdog while its loops are alive (runtime/supervision/).
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
  const features = hooks.features ?? FEATURES;
  const liveness = new LivenessRegistry({ clock: options.clock, graceMs: envMs('CARBONEDGE_LIVENESS_GRACE_MS', DEFAULT_GRACE_MS) });
  const make = (s: LoadedSite, opts: GatewayOptions) => {
    const gw = new Gateway({ config: s.config, configFile: s.file, profiles: s.profiles, logger, options: opts, features });
    gw.ctx.services.provide(LIVENESS, liveness, 'supervision');
    return gw;
  };
  // Remote configuration (uplink.remoteConfig.enabled, a config file on disk): the running config
  // is the active entry of the config history and is announced in the retained status.
  let remote: RemoteConfig | undefined;
  let runningSha: string | undefined;
  if (RemoteConfig.enabled(site) && site.file && !site.file.startsWith('<')) {
    const dataDir = resolveDataDir(site.config, options.dataDir);
    remote = new RemoteConfig(
      {
        configFile: site.file,
        dataDir,
        logger,
        clock: options.clock ?? systemClock,
        load: (text) => loadSiteConfigText(text, site.file),
        current: () => gateway,
        restart: async (next, entry) => {
          await gateway.stop();
          gateway = make(next, { ...options, configVersion: { id: entry.id, sha256: entry.sha256 } });
          remote!.attach(gateway);
          await gateway.start();
        },
      },
      RemoteConfig.keep(site),
    );
    const entry = remote.history.adopt(readFileSync(site.file, 'utf8'));
    runningSha = entry.sha256;
    options = { ...options, configVersion: { id: entry.id, sha256: entry.sha256 } };
  }
  let gateway = make(site, options);
  remote?.attach(gateway);
  const notifier = createSystemdNotifier({ liveness, logger });
  let stopping: Promise<void> | undefined;
  let unwatchParent: (() => void) | undefined;
  let stopHealthy: (() => void) | undefined;
  const stopped = new Promise<number>((resolve) => {
    const stop = (reason: string) => {
      if (stopping) {
        logger.error({ signal: reason }, 'second stop request: exiting now, without finishing the stop');
        process.exit(EXIT.forced);
      }
      const deadlineMs = envMs('CARBONEDGE_STOP_TIMEOUT_MS', STOP_DEADLINE_MS);
      logger.info({ signal: reason, deadlineMs }, 'stopping');
      notifier?.stopping();
      unwatchParent?.();
      const deadline = setTimeout(() => {
        logger.error({ deadlineMs }, 'stop deadline passed: exiting without finishing the stop');
        process.exit(EXIT.forced);
      }, deadlineMs);
      deadline.unref();
      stopping = (async () => {
        remote?.close();
        stopHealthy?.();
        await gateway.stop();
        lock.release();
        await hooks.onStop?.();
        await notifier?.flush();
      })();
      stopping.then(
        () => {
          clearTimeout(deadline);
          logger.info('stopped');
          resolve(EXIT.ok);
        },
        (err) => {
          clearTimeout(deadline);
          logger.error({ err }, 'error while stopping');
          resolve(EXIT.failure);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // npx / npm start: the shell npm puts in between dies on SIGTERM without passing it on.
    if (launchedByNpm()) unwatchParent = watchParent((was) => stop(`parent ${was} exited`));
  });
  // One device or message must never take the process down; log what escaped and carry on.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection (continuing)'));
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (continuing)'));
  try {
    await gateway.start();
  } catch (err) {
    unwatchParent?.();
    lock.release();
    await hooks.onStop?.();
    // One clear line (path, cause, code) from runCommand, no stack trace: nothing was started.
    if (err instanceof StoreOpenError) throw err;
    logger.fatal({ err }, 'gateway failed to start');
    return EXIT.failure;
  }
  if (remote && runningSha) remote.resume(runningSha);
  stopHealthy = watchHealthy(gateway, logger);
  await hooks.onStarted?.(gateway);
  notifier?.ready(`running: ${site.config.devices.length} device(s)`);
  const code = await stopped;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  return code;
}
