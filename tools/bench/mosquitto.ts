import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort } from '../free-port.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

/**
 * A local mosquitto for a benchmark: 127.0.0.1, a free port, anonymous, no limits on in-flight
 * or queued messages, no logs; its config file goes to `dir`. Resolves once it accepts TCP
 * connections; the caller stops `proc`.
 */
export async function startMosquitto(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freeTcpPort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `user ${os.userInfo().username}`, 'max_inflight_messages 0', 'max_queued_messages 0', 'log_dest none', ''].join('\n'));
  const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const deadline = performance.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (proc.exitCode !== null || performance.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${MOSQUITTO} did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `mqtt://127.0.0.1:${port}`, proc };
}
