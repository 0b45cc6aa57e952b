/**
 * Per-device availability from the readings hub: a device is `online` while its readings come in
 * good (or out-of-range: it answers), `offline` once a whole batch of its readings is comm-error
 * or stale. Each change is reported once, with the reason (the device's error).
 */
import type { Reading } from '../types.js';

export const AVAILABILITY_SCHEMA_VERSION = 1;

export type Availability = 'online' | 'offline';

export interface AvailabilityChange {
  device: string;
  state: Availability;
  ts: number;
  reason?: string;
}

export class DeviceAvailability {
  private readonly state = new Map<string, Availability>();

  /** The changes a batch of readings makes (at most one per device). */
  update(batch: readonly Reading[]): AvailabilityChange[] {
    const seen = new Map<string, { answered: boolean; ts: number; reason?: string }>();
    for (const r of batch) {
      const s = seen.get(r.device) ?? { answered: false, ts: r.ts };
      if (r.quality === 'good' || r.quality === 'out-of-range') s.answered = true;
      else s.reason ??= r.error ?? r.quality;
      s.ts = Math.max(s.ts, r.ts);
      seen.set(r.device, s);
    }
    const changes: AvailabilityChange[] = [];
    for (const [device, s] of seen) {
      const next: Availability = s.answered ? 'online' : 'offline';
      if (this.state.get(device) === next) continue;
      this.state.set(device, next);
      changes.push({ device, state: next, ts: s.ts, ...(next === 'offline' && s.reason ? { reason: s.reason } : {}) });
    }
    return changes;
  }

  get(device: string): Availability | undefined {
    return this.state.get(device);
  }
}

export function availabilityPayload(ids: { site: string; gateway: string }, c: AvailabilityChange): string {
  return JSON.stringify({ schemaVersion: AVAILABILITY_SCHEMA_VERSION, site: ids.site, gateway: ids.gateway, device: c.device, state: c.state, ts: c.ts, ...(c.reason ? { reason: c.reason } : {}) });
}
