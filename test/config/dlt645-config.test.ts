import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/errors.js';
import { loadSiteConfigText } from '../../tools/cli/site.js';

const site = (buses: string, devices: string) => `version: 1
site: { id: plant }
gateway: { id: gw }
buses:
${buses}
devices:
${devices}
`;
const BUSES = `  - { id: meters, type: dlt645, path: /dev/ttyUSB1 }
  - { id: conv, type: dlt645-tcp, host: 192.168.1.20, port: 8899 }
  - { id: rs485, type: rtu, path: /dev/ttyUSB0, baudRate: 9600, parity: none }`;

function issuesOf(text: string) {
  try {
    loadSiteConfigText(text, 'site.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.code} ${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('DL/T 645 buses and meters in the site configuration', () => {
  it('accepts dlt645 and dlt645-tcp buses with meters by address next to Modbus devices', () => {
    const loaded = loadSiteConfigText(
      site(
        BUSES,
        `  - { id: main, role: grid_meter, bus: meters, address: '123456789012', profile: dlt645-2007, pollIntervalMs: 5000 }
  - { id: line2, role: submeter, bus: meters, address: '000102030425', profile: dlt645-2007, pollIntervalMs: 5000 }
  - { id: far, role: submeter, bus: conv, address: '123456789012', profile: dlt645-2007, pollIntervalMs: 5000 }
  - { id: sdm, role: submeter, bus: rs485, unitId: 1, profile: eastron-sdm630, pollIntervalMs: 5000 }`,
      ),
      'site.yaml',
    );
    expect(loaded.config.devices.map((d) => d.address ?? d.unitId)).toEqual(['123456789012', '000102030425', '123456789012', 1]);
    expect(loaded.profiles.get('dlt645-2007')?.points.length).toBeGreaterThan(20);
  });

  it('a DL/T 645-1997 meter shares a line with 2007 meters; a 1997 profile is not a Modbus one', () => {
    const loaded = loadSiteConfigText(
      site(
        BUSES,
        `  - { id: old, role: submeter, bus: meters, address: '123456789012', profile: dlt645-1997, pollIntervalMs: 5000 }
  - { id: new, role: submeter, bus: meters, address: '000102030425', profile: dlt645-2007, pollIntervalMs: 5000 }`,
      ),
      'site.yaml',
    );
    expect(loaded.config.devices.map((d) => `${d.id} ${d.address} ${loaded.profiles.get(d.profile)?.protocol}`)).toEqual(['old 123456789012 dlt645-1997', 'new 000102030425 dlt645-2007']);
    expect(issuesOf(site(BUSES, `  - { id: old, role: submeter, bus: rs485, unitId: 3, profile: dlt645-1997, pollIntervalMs: 5000 }`))).toEqual([
      "CE_CONFIG_PROTOCOL_MISMATCH /devices/0/profile: profile 'dlt645-1997' is a DL/T 645 profile: it needs a meter 'address' on a dlt645 or dlt645-tcp bus",
    ]);
  });

  it('says what is wrong with each meter, all at once', () => {
    const issues = issuesOf(
      site(
        BUSES,
        `  - { id: a, role: grid_meter, bus: meters, address: '123456789012', profile: dlt645-2007, pollIntervalMs: 5000 }
  - { id: twin, role: submeter, bus: meters, address: '123456789012', profile: dlt645-2007, pollIntervalMs: 5000 }
  - { id: unit, role: submeter, bus: meters, unitId: 3, profile: eastron-sdm630, pollIntervalMs: 5000 }
  - { id: onmodbus, role: submeter, bus: rs485, address: '000000000001', profile: dlt645-2007, pollIntervalMs: 5000 }
  - { id: modbusprofile, role: submeter, bus: conv, address: '000000000002', profile: eastron-sdm630, pollIntervalMs: 5000 }
  - { id: dltonunit, role: submeter, bus: rs485, unitId: 4, profile: dlt645-2007, pollIntervalMs: 5000 }`,
      ),
    );
    expect(issues).toEqual([
      "CE_CONFIG_CONFLICT /devices/1/address: meter address 123456789012 on bus 'meters' is already used by device 'a'",
      "CE_CONFIG_PROTOCOL_MISMATCH /devices/2: bus 'meters' is a DL/T 645 line: expected the meter's 12-digit 'address' instead of 'unitId'",
      "CE_CONFIG_PROTOCOL_MISMATCH /devices/3/address: bus 'rs485' is a Modbus bus (rtu): a meter 'address' needs a bus of type dlt645 or dlt645-tcp; Modbus devices take 'unitId'",
      "CE_CONFIG_PROTOCOL_MISMATCH /devices/4/profile: expected a DL/T 645 profile for the meter at address 000000000002 (one of: dlt645-1997, dlt645-2007), got 'eastron-sdm630'",
      "CE_CONFIG_PROTOCOL_MISMATCH /devices/5/profile: profile 'dlt645-2007' is a DL/T 645 profile: it needs a meter 'address' on a dlt645 or dlt645-tcp bus",
    ]);
  });

  it('checks the address format, the bus fields and one bus per serial port, in one pass', () => {
    const issues = issuesOf(
      site(
        `  - { id: meters, type: dlt645, path: /dev/ttyUSB0, baudRate: 2401, parity: mark }
  - { id: rs485, type: rtu, path: /dev/ttyUSB0, baudRate: 9600, parity: none }`,
        `  - { id: a, role: grid_meter, bus: meters, address: '12345678901', profile: dlt645-2007, pollIntervalMs: 5000 }`,
      ),
    );
    expect(issues).toEqual([
      'CE_CONFIG_ENUM /buses/0/baudRate: expected one of 1200, 2400, 4800, 9600, 19200, got 2401 (did you mean 2400?)',
      "CE_CONFIG_ENUM /buses/0/parity: expected one of 'none', 'even', 'odd', got 'mark'",
      "CE_CONFIG_SCHEMA /devices/0/address: expected text matching ^[0-9]{12}$, got '12345678901'",
      // Schema and cross-reference errors in one pass (runtime/config/core-check.ts).
      "CE_CONFIG_CONFLICT /buses/1/path: serial port /dev/ttyUSB0 is already used by bus 'meters'; put all devices of one RS-485 line on one bus",
    ]);
    const shared = issuesOf(
      site(
        `  - { id: meters, type: dlt645, path: /dev/ttyUSB0 }
  - { id: rs485, type: rtu, path: /dev/ttyUSB0, baudRate: 9600, parity: none }`,
        `  - { id: a, role: grid_meter, bus: meters, address: '123456789012', profile: dlt645-2007, pollIntervalMs: 5000 }`,
      ),
    );
    expect(shared).toEqual(["CE_CONFIG_CONFLICT /buses/1/path: serial port /dev/ttyUSB0 is already used by bus 'meters'; put all devices of one RS-485 line on one bus"]);
  });

  it('a rule reads a DL/T 645 meter like any device; its points are not outputs', () => {
    const sites = (rule: string) =>
      site(BUSES, `  - { id: main, role: grid_meter, bus: meters, address: '123456789012', profile: dlt645-2007, pollIntervalMs: 5000 }`) +
      `control: { gpio: { outputs: [{ id: boiler, line: 17 }] } }\nrules:\n  - ${rule}\n`;
    expect(loadSiteConfigText(sites('{ id: r1, kind: switch, output: gpio.boiler, when: "main.active_power > 1000" }'), 'site.yaml').config.rules).toHaveLength(1);
    const issues = issuesOf(sites('{ id: r1, kind: switch, output: main.active_power, when: "main.energy_import > 1000" }'));
    expect(issues).toEqual([expect.stringMatching(/\/rules\/0.*point 'main.active_power' is read-only \(access read, DL\/T 645 DI 02030000\)/)]);
  });
});
