import { Dlt645Bus } from '../../../drivers/dlt645/bus.js';
import { Dlt645Poller } from '../../../drivers/dlt645/poller.js';
import type { Dlt645Profile } from '../../../drivers/profiles/types.js';
import type { Dlt645BusConfig } from '../../../runtime/config/types.js';
import type { Reading } from '../../../runtime/types.js';

export interface Dlt645ReadResult {
  readings: Reading[];
  uri: string;
  address: string;
  /** Why the meter could not be read at all (no answer, link down), when so. */
  failure?: string;
}

/**
 * `carbonedge read` for a DL/T 645 meter: every polled point once. Without an address, the
 * meter's own is asked first (13h to AAAAAAAAAAAA; only one meter may be on the line).
 */
export async function readDlt645(bus: Dlt645BusConfig, profile: Dlt645Profile, address: string | undefined, timeoutMs: number | undefined): Promise<Dlt645ReadResult> {
  const line = new Dlt645Bus(bus, { connectTimeoutMs: Math.max(1000, timeoutMs ?? 3000) });
  try {
    let found = address;
    if (found === undefined) {
      try {
        found = await line.readAddress({ timeoutMs: timeoutMs ?? profile.limits.timeoutMs });
      } catch (err) {
        return { readings: [], uri: line.uri, address: '?', failure: `no --address given and no single meter answered the read-address request (13h): ${(err as Error).message}` };
      }
    }
    const poller = new Dlt645Poller({
      device: { id: profile.id, role: 'other', bus: bus.id, address: found, profile: profile.id, pollIntervalMs: 1000, ...(timeoutMs ? { timeoutMs } : {}) },
      profile,
      bus: line,
    });
    const readings = await poller.pollOnce();
    const notRead = readings.find((r) => r.error?.startsWith('not read: '));
    return { readings, uri: line.uri, address: found, ...(notRead ? { failure: readings.find((r) => r.error)!.error! } : {}) };
  } finally {
    await line.close();
  }
}
