/**
 * Remote configuration (`<prefix>/cmd/config`, enabled by `uplink.remoteConfig.enabled`): a new
 * site config is checked like `carbonedge check`, kept in the config history, written atomically
 * over the config file, applied by restarting the gateway's parts, and watched: when the broker
 * (if the new config has one) and every device that read good values before are not back within
 * the deadline, the previous config is written back and runs again. Each command is answered at
 * once (`applying`, or the errors) and again with its outcome (`applied` or CE_CMD_CONFIG_ROLLED_BACK).
 *
 * The pending apply is kept in `<dataDir>/config-pending.json` (atomic), so a gateway that dies
 * while applying (power cut, crash, systemd restart) resumes the watch after it comes back and
 * still rolls back or confirms.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../runtime/config/atomic-write.js';
import { ConfigError } from '../../runtime/config/errors.js';
import type { LoadedSite } from '../../runtime/config/load.js';
import type { CommandOutcome } from '../../runtime/feature-api.js';
import type { Gateway } from '../../runtime/gateway.js';
import type { Logger } from '../../runtime/logger.js';
import { monoNow, type Clock } from '../../runtime/types.js';
import { COMMAND_SCHEMA_VERSION, type CommandResponse } from '../../runtime/uplink/commands.js';
import type { UplinkConfig } from '../../runtime/uplink/config-schema.js';
import { UPLINK } from '../../runtime/uplink/service.js';
import { ConfigHistory, DEFAULT_KEEP, configHash, shortHash, type ConfigEntry } from './config-history.js';

export const DEFAULT_DEADLINE_SEC = 120;
export const PENDING_FILE = 'config-pending.json';

interface Pending {
  transaction?: string | number;
  /** The entry being applied, and the one to go back to. */
  entry: string;
  previous: string;
  /** Wall-clock deadline (survives a restart of the process; the in-process watch is monotonic). */
  deadlineAt: number;
  /** Devices that read good values before the apply and are still configured: they must come back. */
  devices: string[];
}

export interface RemoteConfigHost {
  configFile: string;
  dataDir: string;
  logger: Logger;
  clock: Clock;
  /** Check a config text like `carbonedge check` (throws ConfigError with every issue). */
  load(text: string): LoadedSite;
  /** Stop the running gateway and start one on `site` (its history entry announced in the status). */
  restart(site: LoadedSite, entry: ConfigEntry): Promise<void>;
  current(): Gateway;
}

const remoteSettings = (site: LoadedSite) => {
  const u = (site.config as { uplink?: UplinkConfig }).uplink;
  return { enabled: u?.remoteConfig?.enabled === true, deadlineSec: u?.remoteConfig?.deadlineSec ?? DEFAULT_DEADLINE_SEC, keep: u?.remoteConfig?.keep ?? DEFAULT_KEEP };
};

export class RemoteConfig {
  readonly history: ConfigHistory;
  private readonly log: Logger;
  private watching: { stop(): void } | undefined;
  private busy = false;

  constructor(
    private readonly host: RemoteConfigHost,
    keep = DEFAULT_KEEP,
  ) {
    this.history = new ConfigHistory(host.dataDir, keep);
    this.log = host.logger.child({ part: 'remote-config' });
  }

  static enabled(site: LoadedSite): boolean {
    return remoteSettings(site).enabled;
  }

  static keep(site: LoadedSite): number {
    return remoteSettings(site).keep;
  }

  private get pendingFile(): string {
    return path.join(this.host.dataDir, PENDING_FILE);
  }

  private readPending(): Pending | undefined {
    if (!existsSync(this.pendingFile)) return undefined;
    try {
      return JSON.parse(readFileSync(this.pendingFile, 'utf8')) as Pending;
    } catch {
      return undefined;
    }
  }

  /** Register the `config` command on a (new) gateway before it starts. */
  attach(gw: Gateway): void {
    gw.ctx.commands.register({ name: 'config', feature: 'remote-config', run: (cmd, meta) => this.command(cmd, meta?.transaction) });
  }

  /** After the process started: resume a watch a previous run of the process left pending. */
  resume(runningSha256: string): void {
    const p = this.readPending();
    if (!p) return;
    const entry = this.history.get(p.entry);
    if (!entry || entry.sha256 !== runningSha256) {
      rmSync(this.pendingFile, { force: true });
      return;
    }
    const left = Math.max(5_000, p.deadlineAt - this.host.clock.now());
    this.log.warn({ entry: p.entry, leftMs: left }, 'resuming the watch of a config apply interrupted by a restart');
    this.watch(p, left);
  }

  private async command(cmd: Record<string, unknown>, transaction: string | number | undefined): Promise<CommandOutcome> {
    if (this.busy || this.watching) return { ok: false, code: 'CE_CMD_BUSY', error: 'a config apply is still being watched; try again when it was answered' };
    const running = this.history.active();
    let target: { text: string; source: 'remote' | 'rollback' };
    if (cmd.type === 'rollback') {
      const entries = this.history.entries();
      const idx = running ? entries.findIndex((e) => e.id === running.id) : -1;
      const to = typeof cmd.to === 'string' ? this.history.get(cmd.to) : [...entries.slice(0, Math.max(0, idx))].reverse().find((e) => e.outcome !== 'rolled-back');
      if (!to) return { ok: false, code: 'CE_CMD_REFUSED', error: typeof cmd.to === 'string' ? `no config ${cmd.to} in the history (carbonedge config history lists them)` : 'no earlier config in the history' };
      target = { text: this.history.text(to), source: 'rollback' };
    } else {
      target = { text: String(cmd.config), source: 'remote' };
    }
    let site: LoadedSite;
    try {
      site = this.host.load(target.text);
    } catch (err) {
      if (err instanceof ConfigError) {
        return { ok: false, code: 'CE_CMD_CONFIG_INVALID', error: `the config has ${err.issues.length} error(s); nothing was changed`, data: { issues: err.issues } };
      }
      throw err;
    }
    if (running && running.sha256 === configHash(target.text)) {
      return { ok: true, data: { status: 'unchanged', id: running.id, sha256: running.sha256 } };
    }
    const deadlineSec = typeof cmd.deadlineSec === 'number' ? cmd.deadlineSec : remoteSettings(site).deadlineSec;
    const gw = this.host.current();
    const configured = new Set(site.config.devices.map((d) => d.id));
    const good = new Set<string>();
    for (const r of gw.ctx.hub.snapshot().values()) if (r.quality === 'good' && configured.has(r.device)) good.add(r.device);
    const entry = this.history.add(target.text, target.source, { ...(transaction !== undefined ? { transaction } : {}), outcome: 'pending' });
    const pending: Pending = {
      ...(transaction !== undefined ? { transaction } : {}),
      entry: entry.id,
      previous: running?.id ?? entry.id,
      deadlineAt: this.host.clock.now() + deadlineSec * 1000,
      devices: [...good].sort(),
    };
    writeFileAtomic(this.pendingFile, JSON.stringify(pending));
    this.busy = true;
    // Answer first (the router publishes it when this returns), then restart on the next turn.
    setImmediate(() => void this.apply(site, entry, pending, deadlineSec * 1000));
    return { ok: true, data: { status: 'applying', id: entry.id, sha256: entry.sha256, deadlineSec, watch: { broker: this.hasBroker(site), devices: pending.devices } } };
  }

  private hasBroker(site: LoadedSite): boolean {
    return Boolean((site.config as { uplink?: UplinkConfig }).uplink?.url ?? this.host.current().ctx.options.uplinkUrl);
  }

  private async apply(site: LoadedSite, entry: ConfigEntry, pending: Pending, deadlineMs: number): Promise<void> {
    try {
      writeFileAtomic(this.host.configFile, this.history.text(entry));
      this.log.info({ entry: entry.id, sha256: shortHash(entry.sha256) }, 'applying a new site config');
      await this.host.restart(site, entry);
      this.watch(pending, deadlineMs);
    } catch (err) {
      this.log.error({ err, entry: entry.id }, 'the new config could not be started; rolling back');
      await this.rollback(pending, `the gateway could not start on it: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  /** Confirm once the broker and the devices are back; roll back at the deadline. */
  private watch(p: Pending, deadlineMs: number): void {
    const started = monoNow(this.host.clock);
    const timer = setInterval(() => {
      const missing = this.missing(p);
      if (!missing.length) {
        this.stopWatch();
        this.history.update(p.entry, { active: true, outcome: 'applied' });
        rmSync(this.pendingFile, { force: true });
        const e = this.history.get(p.entry);
        this.log.info({ entry: p.entry }, 'site config applied: broker and buses are back');
        void this.answerLater({ schemaVersion: COMMAND_SCHEMA_VERSION, status: 'ok', data: { status: 'applied', id: p.entry, sha256: e?.sha256 }, ...(p.transaction !== undefined ? { transaction: p.transaction } : {}) });
      } else if (monoNow(this.host.clock) - started >= deadlineMs) {
        this.stopWatch();
        void this.rollback(p, `not back within ${Math.round(deadlineMs / 1000)} s: ${missing.join('; ')}`);
      }
    }, 250);
    timer.unref();
    this.watching = { stop: () => clearInterval(timer) };
  }

  private stopWatch(): void {
    this.watching?.stop();
    this.watching = undefined;
  }

  /** What is not back yet: the broker (when configured) and each device that read good values before. */
  private missing(p: Pending): string[] {
    const gw = this.host.current();
    const out: string[] = [];
    const uplink = gw.ctx.services.get(UPLINK);
    const wantsBroker = Boolean((gw.ctx.config as { uplink?: UplinkConfig }).uplink?.url ?? gw.ctx.options.uplinkUrl);
    if (wantsBroker && !uplink?.health().connected) out.push(`broker ${uplink?.health().url ?? ''} not connected${uplink?.health().lastError ? ` (${uplink.health().lastError})` : ''}`);
    const configured = new Set(gw.ctx.config.devices.map((d) => d.id));
    const snap = gw.ctx.hub.snapshot();
    const good = new Set<string>();
    for (const r of snap.values()) if (r.quality === 'good') good.add(r.device);
    const lost = p.devices.filter((d) => configured.has(d) && !good.has(d));
    if (lost.length) out.push(`devices without good values: ${lost.join(', ')}`);
    return out;
  }

  private async rollback(p: Pending, reason: string): Promise<void> {
    const prev = this.history.get(p.previous);
    this.history.update(p.entry, { outcome: 'rolled-back', reason });
    rmSync(this.pendingFile, { force: true });
    if (!prev || prev.id === p.entry) {
      this.log.error({ reason }, 'config apply failed and there is no earlier config to go back to');
      return;
    }
    const text = this.history.text(prev);
    this.log.warn({ entry: p.entry, restore: prev.id, reason }, 'rolling back to the previous site config');
    writeFileAtomic(this.host.configFile, text);
    this.history.update(prev.id, { active: true });
    await this.host.restart(this.host.load(text), prev);
    await this.answerLater({
      schemaVersion: COMMAND_SCHEMA_VERSION,
      status: 'error',
      code: 'CE_CMD_CONFIG_ROLLED_BACK',
      error: `config ${p.entry} was rolled back to ${prev.id}: ${reason}`,
      data: { status: 'rolled-back', id: p.entry, restored: prev.id, sha256: prev.sha256 },
      ...(p.transaction !== undefined ? { transaction: p.transaction } : {}),
    });
  }

  /** Publish an outcome once the (possibly restarted) uplink is connected (gives up after 10 min). */
  private async answerLater(res: CommandResponse): Promise<void> {
    const until = monoNow(this.host.clock) + 600_000;
    while (monoNow(this.host.clock) < until) {
      const uplink = this.host.current().ctx.services.get(UPLINK);
      if (!uplink) return;
      if (uplink.answer('config', res)) return;
      await new Promise((r) => setTimeout(r, 250).unref());
    }
    this.log.warn({ status: res.status, transaction: res.transaction }, 'config outcome not answered: the broker stayed unreachable');
  }

  /** Stop watching (process shutdown); a pending apply stays in its file for the next start. */
  close(): void {
    this.stopWatch();
  }
}
