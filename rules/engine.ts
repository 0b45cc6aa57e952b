/**
 * The control loop, decoupled from polling (OpenEMS-style cycle): each tick takes ONE snapshot
 * of the process image, evaluates every rule against it, collects the intended writes,
 * resolves them by priority (manual overrides first, then the highest rule priority; a tie on
 * a shared output is rejected at load), and applies the winners once, through the write gate.
 */
import type { Logger } from '../runtime/logger.js';
import { silentLogger } from '../runtime/logger.js';
import type { Reading } from '../runtime/types.js';
import type { WriteRequest, WriteResult } from '../runtime/services.js';
import type { Value } from './expr/compile.js';
import { ExternalInputs } from './external-inputs.js';
import { unknownOutput, type OutputState } from './primitives.js';
import type { Intent, RuleContext, RuleRuntime } from './rule.js';
import { InputHistory, LocalTime, TickScope } from './scope.js';
import type { OutputRef, SiteModel } from './site-model.js';
import type { OutputLiteral } from './config-types.js';
import type { TickTime } from './tick-time.js';

/** The one path to devices (runtime/control/write-gate.ts implements it). */
export interface Writer {
  write(req: WriteRequest): Promise<WriteResult>;
}

/** A manual override: an output held at a value until `expiresAt` (ms). */
export interface Override {
  /** Output spec as in rules: `device.point` or `device` (mode). */
  output: string;
  value: OutputLiteral;
  expiresAt: number;
  reason: string;
  by: string;
}

export interface OverrideSource {
  /** Overrides in force at `now`. */
  active(now: number): Override[];
}

export interface AppliedChange {
  ts: number;
  output: string;
  value: OutputLiteral;
  previous: OutputLiteral | undefined;
  rule: string;
  reason: string;
  status: WriteResult['status'];
}

export interface TickReport {
  now: number;
  intents: Intent[];
  winners: Intent[];
  /** Intents that lost to a higher priority, with the winner's rule. */
  superseded: { intent: Intent; by: string }[];
  applied: AppliedChange[];
}

export interface EngineOptions {
  model: SiteModel;
  rules: RuleRuntime[];
  writer: Writer;
  logger?: Logger;
  overrides?: OverrideSource;
  external?: ExternalInputs;
  /** Schedule variables (rules/schedules.ts keeps them current). */
  schedules?: Map<string, number | boolean | string>;
}

export const OVERRIDE_PRIORITY = Number.MAX_SAFE_INTEGER;

/** Whether a good reading shows `value` (booleans and 0/1 compare equal). */
function sameValue(r: Reading | undefined, value: number | boolean, scope: TickScope): boolean {
  if (!scope.isGood(r)) return false;
  const v = r.value;
  if (typeof value === 'boolean') return v === value || v === (value ? 1 : 0);
  return typeof v === 'number' && Math.abs(v - value) < 1e-9;
}

export class RuleEngine {
  readonly model: SiteModel;
  readonly rules: RuleRuntime[];
  readonly external: ExternalInputs;
  readonly schedules: Map<string, number | boolean | string>;
  /** State of every output (by OutputRef.key). */
  readonly outputs = new Map<string, OutputState>();
  /** Last value written to each point (`device/point`). */
  private readonly points = new Map<string, number | boolean>();
  private readonly history: InputHistory;
  private readonly localTime: LocalTime;
  private readonly writer: Writer;
  private readonly log: Logger;
  private readonly overrides: OverrideSource | undefined;
  private readonly overrideRefs = new Map<string, OutputRef | string>();
  private busy = false;
  ticks = 0;

  constructor(opts: EngineOptions) {
    this.model = opts.model;
    this.rules = [...opts.rules].sort((a, b) => b.priority - a.priority);
    this.writer = opts.writer;
    this.log = opts.logger ?? silentLogger();
    this.overrides = opts.overrides;
    this.external = opts.external ?? new ExternalInputs(opts.model.control);
    this.schedules = opts.schedules ?? new Map();
    const windows = new Map<string, number>();
    for (const r of this.rules) for (const e of r.expressions) for (const [k, ms] of e.windows) windows.set(k, Math.max(windows.get(k) ?? 0, ms));
    this.history = new InputHistory(windows);
    this.localTime = new LocalTime(opts.model.config.site.timezone);
  }

  private scope(snapshot: Map<string, Reading>, now: number, time: TickTime): TickScope {
    return new TickScope(
      snapshot,
      now,
      {
        model: this.model,
        history: this.history,
        localTime: this.localTime,
        external: this.external,
        schedules: this.schedules,
        maxInputAgeMs: this.model.control.maxInputAgeMs,
      },
      time,
    );
  }

  private stateOf(out: OutputRef, scope: TickScope): OutputState {
    let s = this.outputs.get(out.key);
    if (!s) {
      s = unknownOutput();
      // A point output starts from what the device reports, so the first tick does not write needlessly.
      if (out.point !== undefined && !out.gpio) {
        const r = scope.snapshot.get(out.key);
        if (scope.isGood(r)) {
          const v = r.value;
          s.value = out.type === 'boolean' ? v === true || v === 1 : typeof v === 'number' ? v : undefined;
          if (s.value !== undefined && !this.points.has(out.key)) this.points.set(out.key, s.value as number | boolean);
        }
      } else if (out.point === undefined) {
        // A mode output starts as the mode whose writes the device currently shows, if exactly one does.
        const matching = (out.modes ?? []).filter((m) => {
          const writes = this.model.expand(out, m);
          return writes.length > 0 && writes.every((w) => sameValue(scope.snapshot.get(`${w.device}/${w.point}`), w.value, scope));
        });
        if (matching.length === 1) {
          s.value = matching[0];
          for (const w of this.model.expand(out, matching[0]!)) if (!this.points.has(`${w.device}/${w.point}`)) this.points.set(`${w.device}/${w.point}`, w.value);
        }
      }
      this.outputs.set(out.key, s);
    }
    return s;
  }

  private context(scope: TickScope): RuleContext {
    return { scope, now: scope.now, mono: scope.mono, state: (out) => this.stateOf(out, scope) };
  }

  /**
   * Evaluate all rules against one snapshot and resolve by priority (no writes). `now` is wall
   * time (timestamps, time of day); `time` the monotonic time and readings' ages every interval is
   * measured with (rules/tick-time.ts; default: from `now`, for clocks that never step).
   */
  evaluate(snapshot: Map<string, Reading>, now: number, time: TickTime = {}): { intents: Intent[]; winners: Intent[]; superseded: TickReport['superseded'] } {
    const scope = this.scope(snapshot, now, time);
    this.history.record(snapshot, scope.mono, (r) => scope.isGood(r), (r) => scope.readingAgeMs(r));
    const ctx = this.context(scope);
    const intents: Intent[] = this.overrideIntents(now);
    for (const rule of this.rules) {
      try {
        intents.push(...rule.evaluate(ctx));
      } catch (err) {
        // A defect in one rule must not stop the others; its outputs are released this tick.
        this.log.error({ err, rule: rule.id }, 'rule evaluation failed');
      }
    }
    return { intents, ...this.resolve(intents) };
  }

  private overrideIntents(now: number): Intent[] {
    if (!this.overrides) return [];
    const out: Intent[] = [];
    for (const o of this.overrides.active(now)) {
      let ref = this.overrideRefs.get(o.output);
      if (!ref) {
        ref = this.model.output(o.output);
        this.overrideRefs.set(o.output, ref);
      }
      if (typeof ref === 'string') {
        this.log.warn({ output: o.output, error: ref }, 'ignoring manual override of an unknown output');
        continue;
      }
      let ov = o.value;
      if (ref.type === 'string' && typeof ov === 'boolean') ov = ov ? 'on' : 'off';
      const bad = this.model.checkLiteral(ref, ov);
      if (bad) {
        this.log.warn({ output: o.output, error: bad }, 'ignoring manual override with an invalid value');
        continue;
      }
      const value = ref.type === 'boolean' ? ov === true || ov === 1 : ov;
      out.push({
        rule: `override:${o.by}`,
        priority: OVERRIDE_PRIORITY,
        output: ref,
        value,
        reason: `manual override by ${o.by} until ${new Date(o.expiresAt).toISOString()}: ${o.reason}`,
        inputs: () => ({}),
      });
    }
    return out;
  }

  /**
   * Priority resolution: intents in descending priority claim the points they write; an intent
   * any of whose points is already claimed loses as a whole (a mode is never half-applied).
   */
  private resolve(intents: Intent[]): { winners: Intent[]; superseded: TickReport['superseded'] } {
    const sorted = [...intents].sort((a, b) => b.priority - a.priority);
    const claimed = new Map<string, string>();
    const winners: Intent[] = [];
    const superseded: TickReport['superseded'] = [];
    for (const it of sorted) {
      const pts = this.model.pointsOf(it.output);
      const owner = pts.map((p) => claimed.get(p)).find((x) => x !== undefined);
      if (owner !== undefined) {
        superseded.push({ intent: it, by: owner });
        continue;
      }
      for (const p of pts) claimed.set(p, it.rule);
      winners.push(it);
    }
    return { winners, superseded };
  }

  /**
   * Apply winning intents: only changes are written, every write goes through the writer (gate).
   * `now` (wall) stamps the changes; `mono` (monotonic, default `now`) is when their outputs changed.
   */
  async apply(winners: Intent[], now: number, mono = now): Promise<AppliedChange[]> {
    const applied: AppliedChange[] = [];
    for (const w of winners) {
      const state = this.outputs.get(w.output.key) ?? unknownOutput();
      this.outputs.set(w.output.key, state);
      const writes = this.model.expand(w.output, w.value).filter((pw) => this.points.get(`${pw.device}/${pw.point}`) !== pw.value);
      if (state.value === w.value && !writes.length) continue;
      let status: WriteResult['status'] = 'written';
      let inputs: Record<string, Value | null> | undefined;
      for (const pw of writes) {
        inputs ??= w.inputs?.() ?? {};
        const req: WriteRequest = {
          device: pw.device,
          point: pw.point,
          value: pw.value,
          reason: w.output.point === undefined ? `${w.reason} [mode ${String(w.value)}]` : w.reason,
          rule: w.rule,
          inputs: { ...inputs, previous: state.value ?? null, ...(w.safe ? { safeState: true } : {}) },
        };
        let res: WriteResult;
        try {
          res = await this.writer.write(req);
        } catch (err) {
          res = { status: 'failed', error: (err as Error).message };
        }
        if (res.status === 'failed') {
          status = 'failed';
          this.log.warn({ device: pw.device, point: pw.point, value: pw.value, rule: w.rule, error: res.error }, 'write failed; retrying next tick');
          break;
        }
        if (res.status === 'dry-run') status = 'dry-run';
        else if (res.status === 'verified' && status !== 'dry-run') status = 'verified';
        this.points.set(`${pw.device}/${pw.point}`, pw.value);
      }
      if (status === 'failed') {
        applied.push({ ts: now, output: w.output.key, value: w.value, previous: state.value, rule: w.rule, reason: w.reason, status });
        continue;
      }
      const previous = state.value;
      if (previous === w.value) continue;
      state.value = w.value;
      state.changedAt = mono;
      if (previous !== undefined) state.switches++;
      applied.push({ ts: now, output: w.output.key, value: w.value, previous, rule: w.rule, reason: w.reason, status });
    }
    return applied;
  }

  /** One control cycle: snapshot -> evaluate all rules -> resolve -> apply once (`now`, `time`: see evaluate). */
  async tick(snapshot: Map<string, Reading>, now: number, time: TickTime = {}): Promise<TickReport | undefined> {
    if (this.busy) {
      this.log.warn('previous control tick still applying writes; skipping this tick');
      return undefined;
    }
    this.busy = true;
    try {
      this.ticks++;
      const r = this.evaluate(snapshot, now, time);
      const applied = await this.apply(r.winners, now, time.mono ?? now);
      return { now, ...r, applied };
    } finally {
      this.busy = false;
    }
  }

  /** On a clean stop: drive outputs to the rules' exit (safe) states, resolved by priority. */
  async exit(snapshot: Map<string, Reading>, now: number, time: TickTime = {}): Promise<AppliedChange[]> {
    const ctx = this.context(this.scope(snapshot, now, time));
    const intents = this.rules.flatMap((r) => {
      try {
        return r.exitIntents(ctx);
      } catch {
        return [];
      }
    });
    const { winners } = this.resolve(intents);
    return this.apply(winners, now, ctx.mono);
  }

  /** Switch count per output key (changes applied since start). */
  switchCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.outputs) out[k] = s.switches;
    return out;
  }
}
