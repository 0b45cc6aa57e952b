/**
 * Property: no config that passes `check` makes `run` fail with anything but a clean config error.
 * A few hundred random mutations of the demo config (seeded, so a failure names its seed): each is
 * validated with the loader `check` uses; one that passes is given to a gateway with the
 * composition root's features, a temporary data directory and devices on a closed port, which
 * must start and stop without throwing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/errors.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { FEATURES } from '../../tools/cli/features.js';
import { validateSiteConfig } from '../../tools/cli/site.js';
import { freeTcpPort } from '../../tools/free-port.js';
import { prng } from '../helpers/prng.js';
import { mutate, type Mutation } from './mutate.js';

const SEED = Number(process.env.CE_PROPERTY_SEED ?? 20261129);
const RUNS = Number(process.env.CE_PROPERTY_RUNS ?? 300);
const root = mkdtempSync(path.join(tmpdir(), 'ce-invariant-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('check vets everything run would refuse', () => {
  it(`${RUNS} random mutations of the demo config: refused by check, or the gateway starts and stops (seed ${SEED})`, { timeout: 240_000 }, async () => {
    const closedPort = await freeTcpPort(); // nothing listens there
    const rnd = prng(SEED);
    let refused = 0;
    let started = 0;
    for (let run = 0; run < RUNS; run++) {
      const value: Record<string, never> = JSON.parse(JSON.stringify(demoSiteConfig({ tcpPort: closedPort, dryRun: true })));
      const done: Mutation[] = [];
      const n = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < n; k++) done.push(mutate(value, rnd));
      const what = `run ${run} (seed ${SEED}): ${JSON.stringify(done)}`;
      let site;
      try {
        site = validateSiteConfig(value, '<mutated demo config>');
      } catch (err) {
        // Validation itself must never crash: every problem is a ConfigError.
        if (!(err instanceof ConfigError)) throw new Error(`${what}: validation threw ${(err as Error).stack}`);
        expect(err.issues.length, what).toBeGreaterThan(0);
        refused++;
        continue;
      }
      const dataDir = path.join(root, `gw-${run}`);
      const gw = new Gateway({ config: site.config, configFile: site.file, profiles: site.profiles, logger: silentLogger(), options: { dataDir }, features: FEATURES });
      try {
        await gw.start();
        started++;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`${what}: passed check, then the gateway failed to start: ${(err as Error).stack}`);
      } finally {
        await gw.stop();
      }
    }
    // The property is only worth something if both sides were exercised.
    expect(refused, 'mutations refused by check').toBeGreaterThan(RUNS / 10);
    expect(started, 'mutations that passed check and ran').toBeGreaterThan(RUNS / 20);
  });
});
