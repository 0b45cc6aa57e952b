/**
 * A DL/T 645 meter simulator: several meters of one profile, told apart by their 12-digit
 * address, on one RS-485 line (one end of a socat pty pair, or a TCP port like a serial
 * converter). It speaks the profile's edition (variant.ts): it answers reads (2007: 11h; 1997:
 * 01h) of the profile's data identifiers, splits long replies into follow-up frames (B1h, then
 * 12h -> 92h/B2h; 1997: A1h, then 02h -> 82h/A2h) when `maxDataPerFrame` is set, replies with an
 * error (D1h; 1997: C1h, error byte 02h) to an identifier it does not have, answers 13h
 * read-address (2007 only) when it serves one meter, and stays silent for other addresses.
 * Several servers (one per profile) share a line through ./line-server.ts. Faults for tests:
 * `corruptNext(n)` (bad checksums).
 */
import { encodeBcd, encodeDataIdentifier, decodeDataIdentifier, parseFormat } from '../../drivers/dlt645/values.js';
import { variantOf, type Dlt645Variant } from '../../drivers/dlt645/variant.js';
import { BROADCAST_READ_ADDRESS, ERROR_BIT, FOLLOW_UP_BIT, REPLY_BIT, encodeAddress, encodeFrame, parseFrame, type Frame } from '../../drivers/dlt645/frame.js';
import type { Dlt645Profile } from '../../drivers/profiles/types.js';
import { LineEndpoints } from './line-endpoints.js';

export interface SimulatedMeter {
  address: string;
  /** Values by point id of the profile, in the point's engineering unit (W for a kW point with scale 1000). */
  values: Record<string, number>;
}

export interface Dlt645ServerOptions {
  profile: Dlt645Profile;
  meters: SimulatedMeter[];
  /** Split a reply's value into frames of at most this many value bytes (follow-up frames). */
  maxDataPerFrame?: number;
  /** FEh bytes in front of each reply (default 2). */
  replyPreamble?: number;
}

/** Fixed plausible values of a three-phase meter (the `n`th meter's energies differ). */
export function fixedMeterValues(n = 0): Record<string, number> {
  return {
    energy_combined: 1206.42 + n * 1000,
    energy_import: 1206.42 + n * 1000,
    energy_import_t1: 100.01, energy_import_t2: 400.4, energy_import_t3: 500.0, energy_import_t4: 206.01,
    energy_export: 12.5 + n,
    energy_export_t1: 0, energy_export_t2: 12.5 + n, energy_export_t3: 0, energy_export_t4: 0,
    active_power: 3220.5 + n * 100, active_power_l1: 2280.5, active_power_l2: 2150.2, active_power_l3: -1210.2,
    reactive_power: 1031.5,
    voltage_l1: 230.1, voltage_l2: 229.8, voltage_l3: 231.2,
    current_l1: 10.5, current_l2: 9.75, current_l3: 5.5,
    power_factor: 0.943, power_factor_l1: 0.944, power_factor_l2: 0.96, power_factor_l3: -0.951,
    frequency: 50.01,
  };
}

/**
 * fixedMeterValues(n) fitted to a profile: only its points, each as its meter would send it (an
 * unsigned 1997 power factor has no sign; a 1997 voltage has no decimal), so a read gives back
 * exactly these values.
 */
export function meterValuesFor(profile: Dlt645Profile, n = 0): Record<string, number> {
  const base = fixedMeterValues(n);
  const out: Record<string, number> = {};
  for (const p of profile.points) {
    const v = base[p.id];
    if (v === undefined) continue;
    const scale = p.scale ?? 1;
    const step = 10 ** parseFormat(p.format).decimals;
    const wire = Math.round((p.signed ? v : Math.abs(v)) / scale * step) / step;
    out[p.id] = Number((wire * scale).toPrecision(15));
  }
  return out;
}

export class Dlt645Server {
  /** Requests answered (including error replies), by meter address. */
  readonly served = new Map<string, number>();
  private readonly meters = new Map<string, Map<string, number>>();
  private readonly byDi = new Map<string, Dlt645Profile['points'][number]>();
  private readonly pending = new Map<string, Buffer>();
  private corrupt = 0;
  private readonly variant: Dlt645Variant;
  private readonly endpoints = new LineEndpoints((write, onData) => this.attach(write, onData));

  constructor(private readonly opts: Dlt645ServerOptions) {
    this.variant = variantOf(opts.profile.protocol);
    for (const p of opts.profile.points) this.byDi.set(p.di.toUpperCase(), p);
    for (const m of opts.meters) this.meters.set(m.address, new Map(Object.entries(m.values)));
  }

  /** Set one value of one meter (engineering units, as in SimulatedMeter.values). */
  set(address: string, point: string, value: number): void {
    this.meters.get(address)?.set(point, value);
  }

  /** Drop one value: reads of it get an error reply ("no requested data"). */
  remove(address: string, point: string): void {
    this.meters.get(address)?.delete(point);
  }

  /** The next `n` replies go out with a wrong checksum. */
  corruptNext(n: number): void {
    this.corrupt = n;
  }

  /** Serve on a serial port (the simulator's end of a pty pair). */
  listenSerial(path: string, baudRate = 2400): Promise<void> {
    return this.endpoints.listenSerial(path, { baudRate, parity: 'even' });
  }

  /** Serve on 127.0.0.1 (port 0 = any free port); returns the port. */
  listenTcp(port = 0, host = '127.0.0.1'): Promise<number> {
    return this.endpoints.listenTcp(port, host);
  }

  close(): Promise<void> {
    return this.endpoints.close();
  }

  private attach(write: (b: Buffer) => void, onData: (fn: (d: Buffer) => void) => void): void {
    let rx: Buffer = Buffer.alloc(0);
    onData((d) => {
      rx = Buffer.concat([rx, d]);
      for (;;) {
        const r = parseFrame(rx);
        if (r.kind === 'incomplete') return;
        rx = r.rest;
        if (r.kind === 'bad' || r.frame.control & REPLY_BIT) continue;
        const reply = this.reply(r.frame);
        if (reply) write(reply);
      }
    });
  }

  private encode(reply: Frame): Buffer {
    const bytes = encodeFrame(reply, { preamble: this.opts.replyPreamble ?? 2 });
    if (this.corrupt > 0) {
      this.corrupt--;
      bytes[bytes.length - 2] = (bytes[bytes.length - 2]! + 1) & 0xff;
    }
    return bytes;
  }

  /** The reply frame's bytes to one request, or undefined for silence (also used by ./line-server.ts). */
  reply(req: Frame): Buffer | undefined {
    const reply = this.answer(req);
    return reply && this.encode(reply);
  }

  /** The reply to one request, or undefined for silence. */
  answer(req: Frame): Frame | undefined {
    const v = this.variant;
    const readAddress = v.control.readAddress;
    if (readAddress !== undefined && req.control === readAddress && req.address === BROADCAST_READ_ADDRESS) {
      // Several meters answering at once would collide on the line: a real bus gives garbage.
      if (this.meters.size !== 1) return undefined;
      const address = [...this.meters.keys()][0]!;
      return { address, control: readAddress | REPLY_BIT, data: encodeAddress(address) };
    }
    const meter = this.meters.get(req.address);
    if (!meter) return undefined;
    this.served.set(req.address, (this.served.get(req.address) ?? 0) + 1);
    const di = req.data.length >= v.diBytes ? decodeDataIdentifier(req.data, v.diBytes) : '';
    const error = (fn: number) => ({ address: req.address, control: fn | REPLY_BIT | ERROR_BIT, data: Buffer.from([0x02]) });
    if (req.control === v.control.read) {
      const p = this.byDi.get(di);
      const value = p ? meter.get(p.id) : undefined;
      if (!p || value === undefined) return error(v.control.read);
      const bytes = encodeBcd(value / (p.scale ?? 1), parseFormat(p.format), p.signed ?? false);
      return this.chunk(req.address, di, bytes, v.control.read);
    }
    if (req.control === v.control.readFollowUp) {
      const key = `${req.address}/${di}`;
      const rest = this.pending.get(key);
      if (!rest) return error(v.control.readFollowUp);
      const reply = this.chunk(req.address, di, rest, v.control.readFollowUp);
      if (!v.followUpSequence) return reply;
      const seq = req.data[v.diBytes] ?? 0;
      return { ...reply, data: Buffer.concat([reply.data, Buffer.from([seq])]) };
    }
    return error(req.control & 0x1f);
  }

  private chunk(address: string, di: string, bytes: Buffer, fn: number): Frame {
    const max = this.opts.maxDataPerFrame ?? bytes.length;
    const key = `${address}/${di}`;
    const more = bytes.length > max;
    if (more) this.pending.set(key, bytes.subarray(max));
    else this.pending.delete(key);
    return { address, control: fn | REPLY_BIT | (more ? FOLLOW_UP_BIT : 0), data: Buffer.concat([encodeDataIdentifier(di, this.variant.diBytes), bytes.subarray(0, max)]) };
  }
}
