import type { Dlt645DeviceConfig } from '../../runtime/config/types.js';
import type { Logger } from '../../runtime/logger.js';
import { silentLogger } from '../../runtime/logger.js';
import type { Clock, Reading, ReadingSink } from '../../runtime/types.js';
import { systemClock } from '../../runtime/types.js';
import { Backoff } from '../modbus/backoff.js';
import { PollLoop } from '../poll-loop.js';
import type { LoopBeat } from '../../runtime/supervision/liveness.js';
import type { Dlt645Point, Dlt645Profile } from '../profiles/types.js';
import type { Dlt645Bus } from './bus.js';
import { Dlt645Error } from './errors.js';
import { decodeBcd, parseFormat } from './values.js';

export interface Dlt645PollerStats {
  polls: number;
  /** Cycles in which every point was read. */
  complete: number;
  /** Cycles in which at least one point failed. */
  failed: number;
  /** Cycles skipped because the meter is backed off. */
  skipped: number;
  /** Data identifiers requested. */
  requests: number;
}

/** Engineering value of a point from its value bytes: BCD in the point's format, times its scale. */
export function decodePointValue(p: Dlt645Point, bytes: Uint8Array): number {
  const format = parseFormat(p.format);
  const v = decodeBcd(bytes, format, p.signed ?? false);
  // toPrecision: 1.2345 kW * 1000 is 1234.5 W, not 1234.4999999999998.
  return p.scale === undefined ? v : Number((v * p.scale).toPrecision(15));
}

/**
 * Polls one DL/T 645 meter: each polled point of its profile is one read (11h; 01h for a
 * `dlt645-1997` profile) of its data identifier through the bus queue, decoded and published to the readings hub. A meter that
 * replies with an error (D1h) marks only that point bad, with the decoded reason; a meter that
 * does not answer (after the bus's repeats) abandons the cycle and is backed off, so a dead meter
 * costs its line at most one timeout per backoff period.
 */
export class Dlt645Poller {
  readonly device: Dlt645DeviceConfig;
  readonly profile: Dlt645Profile;
  readonly stats: Dlt645PollerStats = { polls: 0, complete: 0, failed: 0, skipped: 0, requests: 0 };
  private readonly bus: Dlt645Bus;
  private readonly hub: ReadingSink | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  /** Schedule and backoff window (monotonic). */
  private readonly loop: PollLoop;
  private lastProblem: string | undefined;

  constructor(opts: { device: Dlt645DeviceConfig; profile: Dlt645Profile; bus: Dlt645Bus; hub?: ReadingSink; clock?: Clock; logger?: Logger; backoff?: { baseMs?: number; maxMs?: number }; liveness?: LoopBeat }) {
    this.device = opts.device;
    this.profile = opts.profile;
    this.bus = opts.bus;
    this.hub = opts.hub;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger()).child({ device: opts.device.id });
    this.backoff = new Backoff({ baseMs: opts.backoff?.baseMs ?? Math.max(1000, opts.device.pollIntervalMs), maxMs: opts.backoff?.maxMs ?? 300_000, jitter: 0.2 });
    this.loop = new PollLoop({
      clock: this.clock,
      intervalMs: opts.device.pollIntervalMs,
      cycle: () => this.pollOnce(),
      onSkip: () => void this.stats.skipped++,
      log: this.log,
      liveness: opts.liveness,
    });
  }

  /** The device's own timeout, else the longer of the profile's and the bus's. */
  get timeoutMs(): number {
    return this.device.timeoutMs ?? Math.max(this.profile.limits.timeoutMs, this.bus.cfg.timeoutMs ?? 0);
  }

  /** `dlt645:///dev/ttyUSB0#123456789012/00010000` */
  source(p: Pick<Dlt645Point, 'di'>): string {
    return `${this.bus.uri}#${this.device.address}/${p.di.toUpperCase()}`;
  }

  /** Whether the meter is currently backed off (and until when: wall time, ms since the epoch). */
  get backedOff(): { until: number; failures: number } | undefined {
    const left = this.loop.backoffLeftMs();
    return left > 0 ? { until: this.clock.now() + Math.ceil(left), failures: this.backoff.failures } : undefined;
  }

  start(): void {
    this.loop.start();
  }

  /** Stop scheduling; waits for the cycle in flight. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Read every polled point once, publish to the hub (if any) and return the readings. Never throws. */
  async pollOnce(): Promise<Reading[]> {
    this.stats.polls++;
    const readings: Reading[] = [];
    let unreachable: Dlt645Error | undefined;
    let firstError: string | undefined;
    for (const p of this.profile.points) {
      if (p.poll === false) continue;
      if (unreachable) {
        readings.push(this.reading(p, null, `not read: ${unreachable.message}`));
        continue;
      }
      try {
        this.stats.requests++;
        const bytes = await this.bus.readData(this.device.address, p.di, {
          device: this.device.id,
          timeoutMs: this.timeoutMs,
          retries: this.profile.limits.retries,
          delayAfterMs: this.profile.limits.interRequestDelayMs,
          protocol: this.profile.protocol,
        });
        readings.push(this.reading(p, decodePointValue(p, bytes)));
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        firstError ??= msg;
        readings.push(this.reading(p, null, msg));
        if (err instanceof Dlt645Error && !err.deviceAnswered) unreachable = err;
      }
    }
    if (unreachable) {
      const wait = this.backoff.fail();
      this.loop.backOff(wait);
      this.stats.failed++;
      this.report(`meter not answering, backing off ${wait} ms: ${unreachable.message}`);
    } else {
      this.backoff.reset();
      this.loop.clearBackoff();
      if (firstError) this.stats.failed++;
      else this.stats.complete++;
      this.report(firstError);
    }
    try {
      this.hub?.publish(readings);
    } catch (err) {
      this.log.error({ err }, 'publishing readings failed');
    }
    return readings;
  }

  /** DL/T 645 points are read-only here (writes need the meter's password and are not supported). */
  writePoint(pointId: string): Promise<never> {
    return Promise.reject(new Error(`device ${this.device.id}: point '${pointId}' is on a DL/T 645 meter; writing DL/T 645 meters is not supported`));
  }

  private reading(p: Dlt645Point, value: number | null, error?: string): Reading {
    let quality: Reading['quality'] = error === undefined ? 'good' : 'comm-error';
    // As the Modbus codec: an implausible value keeps its number but is not good.
    if (value !== null && p.min !== undefined && value < p.min) [quality, error] = ['out-of-range', `${value} is below the minimum ${p.min}`];
    if (value !== null && p.max !== undefined && value > p.max) [quality, error] = ['out-of-range', `${value} is above the maximum ${p.max}`];
    const r: Reading = { device: this.device.id, point: p.id, value, quality, ts: this.clock.now(), source: this.source(p) };
    if (p.canonical) r.canonical = p.canonical;
    if (p.unit !== undefined) r.unit = p.unit;
    if (error !== undefined) r.error = error;
    return r;
  }

  private report(problem: string | undefined): void {
    if (problem === this.lastProblem) return;
    if (problem) this.log.warn({ problem }, 'device read problem');
    else this.log.info('device read ok again');
    this.lastProblem = problem;
  }
}
