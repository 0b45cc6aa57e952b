/**
 * Interfaces through which the runtime's parts talk to each other, with their service keys.
 * Implementations live in their own modules; the composition root (tools/cli/features.ts) lists the
 * features that provide them.
 */
import type { OutboxWriter } from './outbox/outbox.js';
import { serviceKey } from './service-registry.js';

/** The outbox interfaces live in runtime/outbox/outbox.ts (re-exported here for existing imports). */
export type { OutboxWriter, OutboxReader } from './outbox/outbox.js';

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
