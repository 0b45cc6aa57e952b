import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

/** Where the system test peers live (installed by .ci/run with apt-get). */
export const PEERS = {
  /** Debian's python3 (has python3-pymodbus); the python3 first on PATH may be another one. */
  python: '/usr/bin/python3',
  mosquitto: '/usr/sbin/mosquitto',
  socat: '/usr/bin/socat',
  mbpoll: '/usr/bin/mbpoll',
  /** mosquitto-clients: a real MQTT publisher (retained-command tests). */
  mosquittoPub: '/usr/bin/mosquitto_pub',
  /** Debian's chromium, driven by playwright-core (the local page's browser test). */
  chromium: '/usr/bin/chromium',
} as const;
export type PeerName = keyof typeof PEERS | 'pymodbus';

function present(name: PeerName): boolean {
  if (name === 'pymodbus') {
    try {
      execFileSync(PEERS.python, ['-c', 'import pymodbus'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }
  return existsSync(PEERS[name]);
}

/**
 * Whether an interop peer is installed. In CI (CI env set) a missing peer is a failure, not a
 * skip: call at module level and pass the result to `describe.runIf(...)`.
 */
export function havePeer(...names: PeerName[]): boolean {
  const missing = names.filter((n) => !present(n));
  if (missing.length && process.env.CI) {
    throw new Error(`interop test peer(s) missing in CI: ${missing.join(', ')} (install with .ci/run)`);
  }
  return missing.length === 0;
}

/** A free TCP port on 127.0.0.1 (for peers that cannot listen on port 0 and report it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolve when `host:port` accepts a TCP connection, or reject after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10000, host = '127.0.0.1'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Poll `cond` until true (no wall-time assertion: only a generous upper bound to avoid hangs). */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 20000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
