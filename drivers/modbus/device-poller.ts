import type { DeviceConfig } from '../../runtime/config/types.js';
import type { Logger } from '../../runtime/logger.js';
import { silentLogger } from '../../runtime/logger.js';
import type { Clock, PointValue, Reading, ReadingSink } from '../../runtime/types.js';
import { systemClock } from '../../runtime/types.js';
import type { ExpectProbe, Profile, ProfilePoint } from '../profiles/types.js';
import { PollLoop } from '../poll-loop.js';
import type { LoopBeat } from '../../runtime/supervision/liveness.js';
import { Backoff } from './backoff.js';
import type { ModbusBus } from './bus.js';
import { decodeBlockResults, decodeRaw, fromEngineering, registerCount, type BlockResult, type PointResult } from './codec.js';
import { ModbusError, ModbusUnavailableError } from './errors.js';
import { blockLookup, checkProbes, probeWords } from './model-check.js';
import { planReads, type ReadBlock } from './planner.js';
import { resolveProfile } from './preflight.js';

export interface PollerStats {
  /** Poll cycles started (every block attempted or skipped as a whole). */
  polls: number;
  /** Cycles in which every block was read. */
  complete: number;
  /** Cycles in which at least one block failed. */
  failed: number;
  /** Cycles skipped because the device is backed off. */
  skipped: number;
  /** Requests put on the bus. */
  requests: number;
  /** Requests of discovery and model checks (at start and after the device was unreachable). */
  probes: number;
}

export interface DevicePollerOptions {
  device: DeviceConfig;
  profile: Profile;
  bus: ModbusBus;
  hub?: ReadingSink;
  clock?: Clock;
  logger?: Logger;
  /** Per-device backoff after the device stops answering (default 1 s doubling, capped at 5 min). */
  backoff?: { baseMs?: number; maxMs?: number };
  random?: () => number;
  /** The device's loop in the liveness registry (runtime/supervision/liveness.ts). */
  liveness?: LoopBeat;
}

/**
 * Polls one device: the profile's points in planned block reads (drivers/modbus/planner.ts)
 * through the device's bus queue, decoded by the codec, published to the readings hub.
 *
 * A device that stops answering (timeout, link down) is backed off (capped, jittered): the rest
 * of its cycle is abandoned after the first unanswered request, and no request is queued until
 * the backoff expires, so a dead device costs its bus at most one timeout per backoff period
 * and never slows its healthy neighbours. A device that answers with an exception or garbage
 * only marks the affected block's values bad; it is retried on the next cycle.
 */
export class DevicePoller {
  readonly device: DeviceConfig;
  /** The configured profile (for a `discover: sunspec` profile: the stub the device's own is generated from). */
  readonly configuredProfile: Profile;
  readonly stats: PollerStats = { polls: 0, complete: 0, failed: 0, skipped: 0, requests: 0, probes: 0 };
  private current: Profile;
  private plan: ReadBlock[];
  /** Discovery and the model check are due (at start, after the device was unreachable or failed the check). */
  private preflightDue = true;
  private readonly bus: ModbusBus;
  private readonly hub: ReadingSink | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  /** Schedule and backoff window (monotonic). */
  private readonly loop: PollLoop;
  private lastProblem: string | undefined;

  constructor(opts: DevicePollerOptions) {
    this.device = opts.device;
    this.configuredProfile = opts.profile;
    this.current = opts.profile;
    this.bus = opts.bus;
    this.hub = opts.hub;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger()).child({ device: opts.device.id });
    this.backoff = new Backoff({
      baseMs: opts.backoff?.baseMs ?? Math.max(1000, opts.device.pollIntervalMs),
      maxMs: opts.backoff?.maxMs ?? 300_000,
      jitter: 0.2,
      random: opts.random,
    });
    this.plan = planReads(opts.profile);
    this.loop = new PollLoop({
      clock: this.clock,
      intervalMs: opts.device.pollIntervalMs,
      cycle: () => this.pollOnce(),
      onSkip: () => void this.stats.skipped++,
      log: this.log,
      liveness: opts.liveness,
    });
  }

  /** The profile the device is read with: the configured one, or the one discovered from the device. */
  get profile(): Profile {
    return this.current;
  }

  /** The planned reads of a full poll. */
  get blocks(): ReadBlock[] {
    return this.plan;
  }

  /**
   * Per-request timeout: the device's own `timeoutMs` when the site config sets one; otherwise the
   * longer of the profile's (how long the device takes) and the bus's (what the link adds, e.g. a
   * slow RS-485-to-Ethernet converter), so a bus-level setting is never silently ignored.
   */
  get timeoutMs(): number {
    if (this.device.timeoutMs !== undefined) return this.device.timeoutMs;
    const fromProfile = this.profile.limits.timeoutMs;
    const fromBus = this.bus.cfg.timeoutMs;
    if (fromProfile === undefined) return fromBus ?? 1000;
    return Math.max(fromProfile, fromBus ?? 0);
  }

  /** Source of a point's value: `<bus uri>#<unit>/<register>/<address>`. */
  source(p: Pick<ProfilePoint, 'register' | 'address'>): string {
    return `${this.bus.uri}#${this.device.unitId}/${p.register}/${p.address}`;
  }

  /** Whether the device is currently backed off (and until when: wall time, ms since the epoch). */
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

  /**
   * Read every planned block once, decode, publish to the hub (if any) and return the readings.
   * Never throws: failures become comm-error readings with the reason.
   */
  async pollOnce(): Promise<Reading[]> {
    this.stats.polls++;
    if (this.preflightDue) {
      const failed = await this.preflight();
      if (failed) return failed;
    }
    const results: BlockResult[] = [];
    let unreachable: ModbusError | undefined;
    let firstError: string | undefined;
    for (const block of this.blocks) {
      if (unreachable) {
        results.push({ block, error: `not read: ${unreachable.message}` });
        continue;
      }
      try {
        results.push(await this.readBlock(block));
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        firstError ??= msg;
        results.push({ block, error: msg });
        // No answer (timeout, link down, gateway 0A/0B) or garbage: abandon the cycle and back off,
        // so such a device costs its bus at most one failed request per backoff period.
        if (err instanceof ModbusError && !err.deviceAnswered) unreachable = err;
      }
    }
    const ts = this.clock.now();
    let points: PointResult[];
    try {
      points = decodeBlockResults(this.profile, results, ts);
    } catch (err) {
      const msg = `decode failed: ${(err as Error).message}`;
      points = this.blocks.flatMap((b) => b.points).filter((p) => p.poll !== false).map((p) => ({ point: p, value: null, quality: 'comm-error' as const, error: msg, ts }));
      firstError ??= msg;
    }
    // The model check rides on the data read: probes inside the read blocks cost nothing.
    const mismatch = this.profile.expect ? checkProbes(this.profile.expect, blockLookup(results)).problem : undefined;
    if (mismatch) {
      points = points.map((r) => ({ ...r, value: null, quality: 'comm-error' as const, error: mismatch }));
      this.preflightDue = true;
    }
    const readings = points.map((r) => this.toReading(r, ts));

    if (mismatch) {
      this.stats.failed++;
      this.report(mismatch, 'error');
    } else if (unreachable) {
      this.preflightDue = true;
      const wait = unreachable instanceof ModbusUnavailableError && !this.backoff.failures ? this.backoff.baseMs : this.backoff.fail();
      this.loop.backOff(wait);
      this.stats.failed++;
      this.report(`device not answering properly, backing off ${wait} ms: ${unreachable.message}`, 'warn');
    } else {
      if (this.backoff.failures) this.log.info({ afterFailures: this.backoff.failures }, 'device answering again');
      this.backoff.reset();
      this.loop.clearBackoff();
      if (firstError) {
        this.stats.failed++;
        this.report(firstError, 'warn');
      } else {
        this.stats.complete++;
        this.report(undefined, 'info');
      }
    }
    this.publish(readings);
    return readings;
  }

  /**
   * Discovery (a `discover` profile) and the model check of probes outside the planned reads.
   * Returns the readings of a failed preflight (every point bad, with the reason), else undefined.
   */
  private async preflight(): Promise<Reading[] | undefined> {
    const read = async (address: number, count: number, register: 'holding' | 'input' = 'holding'): Promise<number[]> => {
      this.stats.probes++;
      const opts = { device: this.device.id, timeoutMs: this.timeoutMs, delayAfterMs: this.configuredProfile.limits.interRequestDelayMs };
      return (await this.bus.read(this.device.unitId, register, address, count, opts)) as number[];
    };
    let problem: string;
    let unreachable: ModbusError | undefined;
    try {
      const resolved = await resolveProfile(this.configuredProfile, this.current, read, this.log);
      if (resolved !== this.current) {
        this.current = resolved;
        this.plan = planReads(resolved);
      }
      // Probes inside the planned reads are checked on every poll from the data read (free).
      const probes = (this.current.expect ?? []).filter((p) => !this.inPlan(p));
      const found = new Map<string, number[]>();
      for (const p of probes) found.set(`${p.register}/${p.address}`, await read(p.address, probeWords(p).length, p.register));
      const check = checkProbes(probes, (register, address) => found.get(`${register}/${address}`));
      if (!check.problem) {
        this.preflightDue = false;
        return undefined;
      }
      problem = check.problem;
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
      if (err instanceof ModbusError && !err.deviceAnswered) unreachable = err;
    }
    const ts = this.clock.now();
    const readings = this.current.points
      .filter((p) => p.poll !== false)
      .map((p) => this.toReading({ point: p, value: null, quality: 'comm-error', error: problem, ts }, ts));
    this.stats.failed++;
    if (unreachable) {
      const wait = unreachable instanceof ModbusUnavailableError && !this.backoff.failures ? this.backoff.baseMs : this.backoff.fail();
      this.loop.backOff(wait);
      this.report(`device not answering properly, backing off ${wait} ms: ${problem}`, 'warn');
    } else {
      this.report(problem, 'error');
    }
    this.publish(readings);
    return readings;
  }

  private inPlan(p: ExpectProbe): boolean {
    const count = probeWords(p).length;
    return this.plan.some((b) => b.register === p.register && p.address >= b.start && p.address + count <= b.start + b.count);
  }

  private publish(readings: Reading[]): void {
    try {
      this.hub?.publish(readings);
    } catch (err) {
      this.log.error({ err }, 'publishing readings failed');
    }
  }

  private report(problem: string | undefined, level: 'warn' | 'info' | 'error'): void {
    if (problem === this.lastProblem) return;
    if (problem) this.log[level]({ problem }, 'device read problem');
    else if (this.lastProblem) this.log.info('device read ok again');
    this.lastProblem = problem;
  }

  private toReading(r: PointResult, ts: number): Reading {
    const reading: Reading = {
      device: this.device.id,
      point: r.point.id,
      value: r.value,
      quality: r.quality,
      ts: r.ts ?? ts,
      source: this.source(r.point),
    };
    if (r.point.canonical) reading.canonical = r.point.canonical;
    if (r.point.unit !== undefined) reading.unit = r.point.unit;
    if (r.error !== undefined) reading.error = r.error;
    return reading;
  }

  /**
   * Write one point (raw: no gating here - only the write gate may call this) and read it back.
   * Throws on an unknown or read-only point, a value the codec refuses, or a bus error.
   */
  async writePoint(pointId: string, value: number | boolean): Promise<{ readBack: PointValue; reading: Reading }> {
    const p = this.profile.points.find((q) => q.id === pointId);
    if (!p) throw new Error(`device ${this.device.id}: profile ${this.profile.id} has no point '${pointId}'`);
    if (p.access !== 'read-write' && p.access !== 'write') {
      throw new Error(`device ${this.device.id}: point '${pointId}' is not writeable (access ${p.access ?? 'read'})`);
    }
    if (p.register !== 'holding' && p.register !== 'coil') {
      throw new Error(`device ${this.device.id}: point '${pointId}' is a ${p.register} point; only holding registers and coils can be written`);
    }
    const sfExp = p.scaleFactorPoint !== undefined ? await this.readScaleFactor(p.scaleFactorPoint) : undefined;
    let words: number[];
    try {
      words = fromEngineering(p, value, sfExp);
    } catch (err) {
      // Name what and where, like the bus errors: the codec only knows the point.
      throw new RangeError(
        `device ${this.device.id} (unit ${this.device.unitId} on ${this.bus.uri}) ${p.register} ${p.address}: value ${String(value)} refused for '${pointId}': ${(err as Error).message}`,
        { cause: err },
      );
    }
    const opts = { device: this.device.id, timeoutMs: this.timeoutMs, delayAfterMs: this.profile.limits.interRequestDelayMs };
    if (p.register === 'coil') await this.bus.write(this.device.unitId, 'coil', p.address, words.map((w) => w !== 0), opts);
    else await this.bus.write(this.device.unitId, 'holding', p.address, words, opts);
    const readBack = await this.readPoints([p]);
    const reading = readBack.find((r) => r.point === p.id);
    if (!reading) throw new Error(`device ${this.device.id}: read-back of '${pointId}' returned nothing`);
    return { readBack: reading.value, reading };
  }

  /** One planned read on the bus: words for registers, bits for coils and discrete inputs. */
  private async readBlock(block: ReadBlock): Promise<BlockResult> {
    this.stats.requests++;
    const data = await this.bus.read(this.device.unitId, block.register, block.start, block.count, {
      device: this.device.id,
      timeoutMs: this.timeoutMs,
      delayAfterMs: this.profile.limits.interRequestDelayMs,
    });
    return block.register === 'coil' || block.register === 'discrete' ? { block, bits: data as boolean[] } : { block, words: data as number[] };
  }

  /** Read the given points now (planned reads), publish and return their readings. */
  async readPoints(points: ProfilePoint[]): Promise<Reading[]> {
    const blocks = planReads(this.profile, points);
    const results: BlockResult[] = [];
    for (const block of blocks) {
      try {
        results.push(await this.readBlock(block));
      } catch (err) {
        results.push({ block, error: err instanceof Error ? err.message : String(err) });
      }
    }
    const ts = this.clock.now();
    const wanted = new Set(points.map((p) => p.id));
    const readings = decodeBlockResults(this.profile, results, ts)
      .filter((r) => wanted.has(r.point.id))
      .map((r) => this.toReading(r, ts));
    this.hub?.publish(readings);
    return readings;
  }

  private async readScaleFactor(id: string): Promise<number> {
    const sp = this.profile.points.find((q) => q.id === id);
    if (!sp) throw new Error(`device ${this.device.id}: scale factor point '${id}' is not in profile ${this.profile.id}`);
    const words = (await this.bus.read(this.device.unitId, sp.register, sp.address, registerCount(sp), {
      device: this.device.id,
      timeoutMs: this.timeoutMs,
      delayAfterMs: this.profile.limits.interRequestDelayMs,
    })) as number[];
    const raw = decodeRaw(sp, words);
    const n = typeof raw === 'bigint' ? Number(raw) : Number(raw);
    if (!Number.isInteger(n) || n === -32768) throw new Error(`device ${this.device.id}: scale factor '${id}' is not implemented (${String(raw)})`);
    return n;
  }
}
