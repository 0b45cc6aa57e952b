/**
 * A pseudo-terminal pair made by socat: what one end writes, the other reads, like a null-modem
 * cable. The simulator serves Modbus RTU on one end; a poller (or `carbonedge read --rtu`) opens
 * the other end as if it were an RS-485 adapter.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface PtyPair {
  /** The end the simulator serves on. */
  serverPath: string;
  /** The end to give to the client (a site config's bus path, `carbonedge read --rtu`). */
  clientPath: string;
  close(): Promise<void>;
}

const SOCAT_CANDIDATES = ['/usr/bin/socat', '/usr/local/bin/socat', '/bin/socat', '/opt/homebrew/bin/socat'];

/** Path of socat (CARBONEDGE_SOCAT overrides the search), or undefined when it is not installed. */
export function findSocat(): string | undefined {
  const override = process.env.CARBONEDGE_SOCAT;
  if (override) return existsSync(override) ? override : undefined;
  for (const c of SOCAT_CANDIDATES) if (existsSync(c)) return c;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/socat`)) return `${dir}/socat`;
  }
  return undefined;
}

export class SocatMissingError extends Error {
  override name = 'SocatMissingError';
  constructor() {
    super('Modbus RTU simulation needs socat to create a pseudo-terminal pair, and it is not installed (Debian/Ubuntu: sudo apt-get install socat; or give an existing serial device path to --rtu)');
  }
}

/**
 * Create a pty pair with socat. `links` optionally names stable symlinks for the two ends
 * (socat's `link=`); otherwise the /dev/pts paths socat reports are used.
 */
export async function createPtyPair(opts: { links?: [string, string]; timeoutMs?: number } = {}): Promise<PtyPair> {
  const socat = findSocat();
  if (!socat) throw new SocatMissingError();
  const end = (i: 0 | 1) => `pty,raw,echo=0${opts.links ? `,link=${opts.links[i]}` : ''}`;
  const child: ChildProcess = spawn(socat, ['-d', '-d', end(0), end(1)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const paths: string[] = [];
  let stderr = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socat did not create a pty pair within ${opts.timeoutMs ?? 5000} ms: ${stderr.trim()}`)), opts.timeoutMs ?? 5000);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`socat exited (${String(code)}) before the pty pair was ready: ${stderr.trim()}`));
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        stderr += chunk;
        for (const m of chunk.matchAll(/PTY is (\S+)/g)) paths.push(m[1]!);
        // "starting data transfer loop" follows once both ends exist.
        if (paths.length >= 2 && /starting data transfer loop/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  child.removeAllListeners('exit');
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume();
  const [serverPath, clientPath] = opts.links ?? [paths[0]!, paths[1]!];
  return {
    serverPath,
    clientPath,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
