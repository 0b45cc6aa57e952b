/**
 * Stop when the launcher goes away. `npx carbonedge run` and `npm start` put a `sh -c` between
 * npm and node; npm forwards SIGTERM to that shell, which dies without passing it on, and node was
 * left running, reparented to init and still holding the serial ports. Launched by npm (npm sets
 * `npm_command`), the gateway watches its parent process and stops as on SIGTERM when it changes.
 * Other launchers (systemd, tini, a shell) deliver signals to node itself and are not watched, so
 * `nohup carbonedge run &` keeps running after its shell exits.
 */

/** True when npm (npx, npm start, npm run) launched this process. */
export function launchedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof env.npm_command === 'string' && env.npm_command !== '';
}

/** Call `onGone` once when the parent process changes (checked every `everyMs`). Returns a stop function. */
export function watchParent(onGone: (was: number) => void, everyMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
