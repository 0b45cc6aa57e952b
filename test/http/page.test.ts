/**
 * The local page in headless Chromium (Debian's, driven by playwright-core) against a gateway on
 * the running demo site: live values change, the power flow balances (grid + PV + battery =
 * consumption), the carbon windows, device table and chart render, and a phone-sized screenshot
 * is saved under test-output/. In CI a missing chromium fails the test (havePeer throws).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { havePeer, PEERS, waitFor } from '../helpers/peers.js';
import { startDemoGateway, type DemoGateway } from './demo-gateway.js';

const ok = havePeer('chromium');
const OUT = path.resolve('test-output');

describe.runIf(ok)('local page in headless Chromium', () => {
  let demo: DemoGateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    demo = await startDemoGateway();
    browser = await chromium.launch({ executablePath: PEERS.chromium, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await page.goto(`${demo.url}/`);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const watts = (id: string) => page.locator(`#${id}`).getAttribute('data-w').then((v) => (v === null || v === '' ? NaN : Number(v)));
  const shownKw = (id: string) => page.locator(`#${id}`).textContent().then((t) => Number((t ?? '').replace(' kW', '')));

  it('shows live values that change', async () => {
    await page.locator('#updated[data-ts]').waitFor({ timeout: 30_000 });
    const firstTs = Number(await page.locator('#updated').getAttribute('data-ts'));
    const firstGrid = await watts('flow-grid');
    expect(Number.isFinite(firstGrid)).toBe(true);
    let changed = false;
    await waitFor(async () => {
      const ts = Number(await page.locator('#updated').getAttribute('data-ts'));
      changed = ts > firstTs && (await watts('flow-grid')) !== firstGrid;
      return changed;
    }, 60_000, 'the page to show a new grid power');
    expect(changed).toBe(true);
  });

  it('the power flow balances: grid + PV + battery = consumption (and = heat pump + loads + other)', async () => {
    const [grid, pv, battery, consumption, hp, loads, other] = await Promise.all(['flow-grid', 'flow-pv', 'flow-battery', 'flow-consumption', 'flow-heatpump', 'flow-loads', 'flow-other'].map(watts));
    expect(Math.abs(grid! + pv! + battery! - consumption!)).toBeLessThan(1);
    expect(Math.abs(hp! + loads! + other! - consumption!)).toBeLessThan(1);
    // What the page shows (kW, one decimal) balances within the rounding.
    const shown = await Promise.all(['flow-grid', 'flow-pv', 'flow-battery', 'flow-consumption'].map(shownKw));
    expect(Math.abs(shown[0]! + shown[1]! + shown[2]! - shown[3]!)).toBeLessThanOrEqual(0.15 + 1e-9);
  });

  it('renders the carbon windows, the device table, health, the rules and the chart; saves a screenshot', async () => {
    await page.waitForFunction("document.querySelectorAll('#carbon tr').length === 3 && document.querySelectorAll('#devices tbody tr').length === 6", undefined, { timeout: 40_000 });
    expect(await page.locator('#carbon tr th').allTextContents()).toEqual(['Today', 'This month', 'Rolling 24 h']);
    expect(await page.locator('#devices tbody tr td:first-child').allTextContents()).toEqual(['grid', 'pv', 'battery', 'heatpump', 'load', 'line']);
    await page.waitForFunction("document.querySelector('#health')?.textContent === 'healthy'", undefined, { timeout: 20_000 });
    // The chart fills once the store closed a first 1-minute aggregate.
    await page.waitForSelector('#chart .uplot', { timeout: 100_000 });
    await page.waitForSelector('#rules table tr', { timeout: 20_000 });
    mkdirSync(OUT, { recursive: true });
    const file = path.join(OUT, 'local-page-phone.png');
    await page.screenshot({ path: file, fullPage: true });
    await page.setViewportSize({ width: 1400, height: 900 });
    const wide = path.join(OUT, 'local-page-desktop.png');
    await page.screenshot({ path: wide, fullPage: true });
    process.stdout.write(`local page screenshots: ${file}, ${wide}\n`);
  }, 120_000);
});
