/**
 * One generic test over every shipped profile (device-profiles/*.yaml) and its fixture
 * (device-profiles/fixtures/<id>.yaml): the fixture exists, its wire image decodes through the
 * planner and codec to the expected values, the read plan is minimal and within the profile's
 * limits, and the same values come back through the simulator over Modbus TCP.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { minimumRequestCount, planReads } from '../../drivers/modbus/planner.js';
import { builtinProfileDir, loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { isDlt645Profile, modbusProfiles, type Profile } from '../../drivers/profiles/types.js';
import type { DeviceConfig } from '../../runtime/config/types.js';
import { RegisterImage } from '../../tools/simulator/register-image.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { asExpected, builtinFixture, coverageProblems, decodeImage, FIXTURE_DIR, limitProblems, rawImage, readsOf, type ProfileFixture } from './fixture.js';

const PROFILE_DIR = builtinProfileDir();
const idsIn = (dir: string, ext: RegExp) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && ext.test(e.name) && e.name !== 'profile.schema.json')
    .map((e) => e.name.replace(ext, ''))
    .sort();
const { profiles: all, issues } = loadBuiltinProfiles();
const profiles = modbusProfiles(all);
// Register-map fixtures are for Modbus profiles; DL/T 645 profiles are read against the meter
// simulator and an independent frame builder (test/drivers/dlt645-*.test.ts).
const profileIds = idsIn(PROFILE_DIR, /\.(ya?ml|json)$/i).filter((id) => { const p = all.get(id); return !p || !isDlt645Profile(p); });
const fixtureIds = idsIn(FIXTURE_DIR, /\.yaml$/);

function fixtureFor(id: string): { profile: Profile; fixture: ProfileFixture } {
  const profile = profiles.get(id);
  if (!profile) throw new Error(`profile ${id} did not load: ${JSON.stringify(issues)}`);
  return { profile, fixture: builtinFixture(id) };
}

describe('profile fixtures', () => {
  it('every shipped profile has a fixture, and every fixture names a shipped profile', () => {
    expect(profileIds.length).toBeGreaterThan(0);
    expect(issues).toEqual([]);
    expect(profileIds.filter((id) => !fixtureIds.includes(id)), 'profiles without device-profiles/fixtures/<id>.yaml').toEqual([]);
    expect(fixtureIds.filter((id) => !profileIds.includes(id)), 'fixtures whose file name is no shipped profile').toEqual([]);
  });

  describe.each(profileIds)('%s', (id) => {
    it('fixture is well-formed, names its profile and gives every register a full read decodes', () => {
      const { profile, fixture } = fixtureFor(id);
      expect(fixture.profile, 'the fixture\'s `profile` must equal its file name').toBe(id);
      const { image, problems } = rawImage(fixture);
      expect([...problems, ...coverageProblems(profile, image)]).toEqual([]);
    });

    it('decodes the wire image through the planner and the codec to the expected values', () => {
      const { profile, fixture } = fixtureFor(id);
      const decoded = decodeImage(profile, rawImage(fixture).image);
      expect(asExpected(decoded, fixture.expected)).toEqual(fixture.expected);
    });

    it('reads in the minimum number of requests, within the limits, as the fixture lists', () => {
      const { profile, fixture } = fixtureFor(id);
      const blocks = planReads(profile);
      expect(blocks.length).toBe(minimumRequestCount(profile));
      expect(limitProblems(profile, blocks)).toEqual([]);
      expect(readsOf(blocks)).toEqual(fixture.reads);
    });
  });

  describe('round trip through the simulator over Modbus TCP', () => {
    let server: SimulatorServer;
    let bus: ModbusBus;
    const units = new Map(profileIds.map((id, i) => [id, i + 1]));

    beforeAll(async () => {
      const devices = profileIds.map((id) => {
        const { profile, fixture } = fixtureFor(id);
        const image = new RegisterImage(profile);
        for (const run of fixture.registers) {
          if ('bits' in run) image.setBits(run.register, run.address, run.bits);
          else image.setWords(run.register, run.address, run.words);
        }
        return { unitId: units.get(id)!, name: id, image };
      });
      server = await SimulatorServer.start({ tcp: { port: 0 }, devices });
      bus = new ModbusBus({ id: 'fixtures', type: 'tcp', host: '127.0.0.1', port: server.tcpPort!, timeoutMs: 2000 });
    });

    afterAll(async () => {
      await bus?.close();
      await server?.close();
    });

    it.each(profileIds)('%s: the poller reads the fixture values from the served image', async (id) => {
      const { profile, fixture } = fixtureFor(id);
      const device: DeviceConfig = { id, role: 'other', bus: bus.id, unitId: units.get(id)!, profile: id, pollIntervalMs: 1000 };
      const poller = new DevicePoller({ device, profile, bus });
      const readings = await poller.pollOnce();
      const byPoint = new Map(profile.points.map((p) => [p.id, p]));
      const decoded = readings.map((r) => ({ point: byPoint.get(r.point)!, value: r.value, quality: r.quality }));
      expect(asExpected(decoded, fixture.expected)).toEqual(fixture.expected);
      expect(poller.stats.requests).toBe(minimumRequestCount(profile));
      expect(poller.stats.complete).toBe(1);
    });
  });
});
