/**
 * The write gate: the ONLY path from the runtime to a device write (Modbus via the acquisition
 * service, GPIO relays, simulated devices). It enforces the global read-only / dry-run mode
 * where writes are issued (not by convention in callers), logs every write with its reason,
 * and records every decision (written, verified, dry-run or failed) in the decision log.
 */
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Clock } from '../types.js';
import { systemClock } from '../types.js';
import type { WriteBackend, WriteRequest, WriteResult } from '../services.js';

/** One decision as recorded: what was (or would have been) written, by which rule, why, from what. */
export interface Decision {
  ts: number;
  device: string;
  point: string;
  value: number | boolean;
  rule: string;
  reason: string;
  inputs: Record<string, unknown>;
  status: WriteResult['status'];
  dryRun: boolean;
  error?: string;
}

export interface DecisionSink {
  record(d: Decision): void;
}

export interface WriteGateOptions {
  /** Global read-only mode (site config gateway.dryRun or --dry-run). */
  dryRun: boolean;
  backends?: WriteBackend[];
  sinks?: DecisionSink[];
  logger?: Logger;
  clock?: Clock;
}

export class WriteGate {
  readonly dryRun: boolean;
  private readonly backends: WriteBackend[];
  private readonly sinks: DecisionSink[];
  private readonly log: Logger;
  private readonly clock: Clock;
  /** Counters: how many writes reached a backend, were suppressed by dry-run, failed. */
  readonly counts = { written: 0, dryRun: 0, failed: 0 };

  constructor(opts: WriteGateOptions) {
    this.dryRun = opts.dryRun;
    this.backends = [...(opts.backends ?? [])];
    this.sinks = [...(opts.sinks ?? [])];
    this.log = (opts.logger ?? silentLogger()).child({ component: 'write-gate' });
    this.clock = opts.clock ?? systemClock;
  }

  addBackend(b: WriteBackend): void {
    this.backends.push(b);
  }

  addSink(s: DecisionSink): void {
    this.sinks.push(s);
  }

  private backendFor(device: string, point: string): WriteBackend | undefined {
    return this.backends.find((b) => b.canWrite(device, point));
  }

  async write(req: WriteRequest): Promise<WriteResult> {
    const backend = this.backendFor(req.device, req.point);
    let result: WriteResult;
    if (!backend) {
      result = { status: 'failed', error: `no write backend for ${req.device}.${req.point}` };
    } else if (this.dryRun) {
      // Read-only: nothing reaches the device; the decision is still logged.
      result = { status: 'dry-run' };
    } else {
      try {
        result = await backend.write(req);
      } catch (err) {
        result = { status: 'failed', error: (err as Error).message };
      }
    }
    if (result.status === 'failed') this.counts.failed++;
    else if (result.status === 'dry-run') this.counts.dryRun++;
    else this.counts.written++;
    const fields = { device: req.device, point: req.point, value: req.value, rule: req.rule, reason: req.reason, status: result.status };
    if (result.status === 'failed') this.log.warn({ ...fields, error: result.error }, 'write failed');
    else this.log.info(fields, result.status === 'dry-run' ? 'dry-run: write suppressed' : 'write');
    const decision: Decision = {
      ts: this.clock.now(),
      device: req.device,
      point: req.point,
      value: req.value,
      rule: req.rule ?? 'manual',
      reason: req.reason,
      inputs: req.inputs ?? {},
      status: result.status,
      dryRun: this.dryRun,
      ...(result.error ? { error: result.error } : {}),
    };
    for (const s of this.sinks) {
      try {
        s.record(decision);
      } catch (err) {
        this.log.error({ err }, 'decision log sink failed');
      }
    }
    return result;
  }
}
