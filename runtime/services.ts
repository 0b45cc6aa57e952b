/**
 * Interfaces through which the runtime's parts talk to each other. Implementations live in
 * their own modules; the gateway (runtime/gateway.ts) wires them together.
 */

/** The outbox interfaces live in runtime/outbox/ (re-exported here for existing imports). */
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
