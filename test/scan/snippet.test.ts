/**
 * The scan snippet across several buses: one bus per port, unique bus and device ids, a second
 * setting of the same port only in comments, the profiles of one sharesUnit group a device each.
 */
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { siteSnippet } from '../../tools/scan/snippet.js';
import type { ScanLine } from '../../tools/scan/sweep.js';

const { profiles } = loadBuiltinProfiles();
const converter = (port: number, profile: string): ScanLine => ({ type: 'rtu-over-tcp', host: '10.0.0.5', port, units: [{ unit: 1, profiles: [profile] }], meters: [] });

describe('siteSnippet over several buses', () => {
  it('two converters with the same device: converter / converter-2, chint-dtsu666-1 / chint-dtsu666-1-2', () => {
    const parsed = YAML.parse(siteSnippet([converter(502, 'chint-dtsu666'), converter(503, 'chint-dtsu666')], profiles)) as { buses: { id: string; port: number }[]; devices: { id: string; bus: string }[] };
    expect(parsed.buses.map((b) => [b.id, b.port])).toEqual([
      ['converter', 502],
      ['converter-2', 503],
    ]);
    expect(parsed.devices.map((d) => [d.id, d.bus])).toEqual([
      ['chint-dtsu666-1', 'converter'],
      ['chint-dtsu666-1-2', 'converter-2'],
    ]);
  });

  it('a second setting of the same serial port stays in comments; another port is a bus of its own', () => {
    const rtu = (path: string, baudRate: number): ScanLine => ({ type: 'rtu', path, baudRate, parity: 'even', units: [{ unit: 3, profiles: ['eastron-sdm630'] }], meters: [] });
    const text = siteSnippet([rtu('/dev/ttyUSB0', 9600), rtu('/dev/ttyUSB0', 19200), rtu('/dev/ttyUSB1', 9600)], profiles);
    const parsed = YAML.parse(text) as { buses: { id: string; path: string }[]; devices: { id: string; bus: string }[] };
    expect(parsed.buses.map((b) => [b.id, b.path])).toEqual([
      ['rs485-9600-even', '/dev/ttyUSB0'],
      ['rs485-9600-even-2', '/dev/ttyUSB1'],
    ]);
    expect(parsed.devices.map((d) => d.bus)).toEqual(['rs485-9600-even', 'rs485-9600-even-2']);
    expect(text).toMatch(/the same port also answered at 19200 even/);
  });
});
