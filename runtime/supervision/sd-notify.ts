/**
 * systemd notify protocol for `Type=notify` units: READY=1 once the gateway started, WATCHDOG=1
 * every half `WatchdogSec=` while every loop of the liveness registry is alive (none while one is
 * stuck: systemd then restarts the service), STOPPING=1 when the stop begins.
 *
 * Node's dgram has no unix datagram sockets, so each message is sent by the `systemd-notify`
 * tool (package systemd), one at a time in order; the unit sets `NotifyAccess=all` because the
 * sender is a child process. systemd-notify (v246+) waits until the manager has processed the
 * message (a barrier), so a message from the short-lived child is never dropped.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../logger.js';
import type { LivenessRegistry } from './liveness.js';

export interface SystemdNotifier {
  /** The gateway started: READY=1 with a status line; starts the watchdog pings. */
  ready(status?: string): void;
  /** The stop began: STOPPING=1; stops the watchdog pings. */
  stopping(): void;
  /** Wait for the messages sent so far (call before exiting). */
  flush(): Promise<void>;
}

export interface NotifyOptions {
  env?: NodeJS.ProcessEnv;
  liveness: LivenessRegistry;
  logger: Logger;
  /** The systemd-notify executable. */
  command?: string;
}

/** Watchdog ping interval from WATCHDOG_USEC (half of it), if the watchdog is meant for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** A notifier when NOTIFY_SOCKET is set (started by systemd with Type=notify), else undefined. */
export function createSystemdNotifier(opts: NotifyOptions): SystemdNotifier | undefined {
  const env = opts.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return undefined;
  const command = opts.command ?? 'systemd-notify';
  const log = opts.logger.child({ part: 'sd-notify' });
  let queue: Promise<void> = Promise.resolve();
  let missing = false;
  let timer: NodeJS.Timeout | undefined;
  let lastStuck = '';

  const send = (...assignments: string[]): void => {
    queue = queue.then(
      () =>
        new Promise<void>((resolve) => {
          if (missing) return resolve();
          const child = spawn(command, assignments, { stdio: 'ignore', env });
          child.once('error', (err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') missing = true;
            log.error({ err, command }, 'cannot run systemd-notify (package systemd): the service manager gets no notifications');
            resolve();
          });
          child.once('exit', (code) => {
            if (code !== 0) log.warn({ code, message: assignments }, 'systemd-notify failed');
            resolve();
          });
        }),
    );
  };

  const ping = (): void => {
    const stuck = opts.liveness.stuck();
    const names = stuck.map((s) => s.name).join(', ');
    if (names !== lastStuck) {
      if (stuck.length) log.error({ stuck }, 'loop(s) stuck: watchdog pings withheld, systemd will restart the service');
      else if (lastStuck) log.warn({ recovered: lastStuck }, 'stuck loop(s) progressed again: watchdog pings resumed');
      lastStuck = names;
    }
    if (stuck.length) send(`STATUS=stuck: ${names}`);
    else send('WATCHDOG=1');
  };

  return {
    ready(status = 'running') {
      send('READY=1', `STATUS=${status}`, `MAINPID=${process.pid}`);
      const every = watchdogIntervalMs(env);
      if (every !== undefined && !timer) {
        timer = setInterval(ping, every);
        timer.unref();
        log.info({ everyMs: every, loops: opts.liveness.names() }, 'systemd watchdog: pinging while every loop is alive');
      }
    },
    stopping() {
      if (timer) clearInterval(timer);
      timer = undefined;
      send('STOPPING=1', 'STATUS=stopping');
    },
    flush: () => queue,
  };
}
