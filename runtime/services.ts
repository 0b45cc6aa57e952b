/**
 * Interfaces through which the runtime's parts talk to each other, with their service keys.
 * Implementations live in their own modules; the composition root (tools/cli/features.ts) lists the
 * features that provide them.
 */
import { serviceKey } from './service-registry.js';

/** Everything bound for the cloud goes through the outbox (runtime/store): committed before publish. */
export interface OutboxWriter {
  /**
   * Commit one record on `stream` (e.g. `readings-1m`, `carbon-15m`, `carbon-day`, `decisions`).
   * Returns the record's stable per-stream sequence number. Durable when it returns.
   * The store's outbox may also be called inside a transaction on the store's database
   * (`store.db.transaction(() => { outbox.enqueue(...); markSent(); })()`): the record then
   * commits or rolls back with that transaction, which makes "enqueued" and the caller's own
   * bookkeeping one atomic step (a rolled-back enqueue consumes no sequence number).
   */
  enqueue(stream: string, record: Record<string, unknown>): { seq: number };
}

/** A request to change something on a device, with the reason it is being done. */
export interface WriteRequest {
  device: string;
  /** Point id in the device's profile (or a GPIO output id). */
  point: string;
  value: number | boolean;
  /** Why: rule id, manual override, CLI... */
  reason: string;
  rule?: string;
  /** The inputs the decision was based on, for the decision log. */
  inputs?: Record<string, unknown>;
}

export interface WriteResult {
  status: 'written' | 'verified' | 'dry-run' | 'failed';
  error?: string;
}

/** Something that can carry out writes on devices (Modbus, GPIO). Only the write gate calls it. */
export interface WriteBackend {
  canWrite(device: string, point: string): boolean;
  write(req: WriteRequest): Promise<WriteResult>;
}

/** The outbox (provided by the store feature). */
export const OUTBOX = serviceKey<OutboxWriter>('outbox');
