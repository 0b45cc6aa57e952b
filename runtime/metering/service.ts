import { serviceKey } from '../service-registry.js';
import type { Reading } from '../types.js';
import type { MeteringStage, MeterEvent } from './stage.js';

/** What the metering stage hands its consumers for every batch of readings. */
export type MeteredListener = (batch: readonly Reading[], events: readonly MeterEvent[]) => void;

export interface MeteringService {
  /** The stage (consumers restore its baselines from what they persisted). */
  readonly stage: MeteringStage;
  /** Receive every batch with its counter events; returns an unsubscribe function. */
  subscribe(fn: MeteredListener): () => void;
}

/** The metering stage between the readings hub and its consumers (store, accounting). */
export const METERING = serviceKey<MeteringService>('metering');
