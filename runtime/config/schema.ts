import { DEVICE_ROLES } from '../types.js';

/** A top-level section of the site config owned by a feature (runtime/feature-api.ts). */
export interface ConfigSection {
  /** Top-level key, e.g. `store`. */
  key: string;
  /** JSON Schema (draft-07) of the section's value. */
  schema: object;
}

const id = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'identifier: letters, digits, _ . -' };
const ms = (min: number, max: number, description: string) => ({ type: 'integer', minimum: min, maximum: max, description });

const busCommon = {
  id,
  timeoutMs: ms(50, 60_000, 'per-request timeout default for devices on this bus (ms)'),
  interRequestDelayMs: ms(0, 10_000, 'pause between two transactions on this bus (ms)'),
};

const tcpBus = {
  type: 'object',
  required: ['id', 'type', 'host', 'port'],
  additionalProperties: false,
  properties: {
    ...busCommon,
    type: { enum: ['tcp', 'rtu-over-tcp'] },
    host: { type: 'string', minLength: 1, description: 'hostname or IP address of the Modbus TCP device or gateway' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
  },
};

const rtuBus = {
  type: 'object',
  required: ['id', 'type', 'path', 'baudRate', 'parity'],
  additionalProperties: false,
  properties: {
    ...busCommon,
    type: { const: 'rtu' },
    path: { type: 'string', minLength: 1, description: 'serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...' },
    baudRate: { enum: [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] },
    parity: { enum: ['none', 'even', 'odd'] },
    dataBits: { enum: [7, 8] },
    stopBits: { enum: [1, 2] },
  },
};

const dlt645Bus = {
  type: 'object',
  required: ['id', 'type', 'path'],
  additionalProperties: false,
  properties: {
    ...busCommon,
    type: { const: 'dlt645' },
    path: { type: 'string', minLength: 1, description: 'serial device of the DL/T 645 RS-485 line, e.g. /dev/ttyUSB1' },
    baudRate: { enum: [1200, 2400, 4800, 9600, 19200], description: 'default 2400' },
    parity: { enum: ['none', 'even', 'odd'], description: 'default even' },
    dataBits: { enum: [7, 8] },
    stopBits: { enum: [1, 2] },
  },
};

const dlt645TcpBus = {
  ...tcpBus,
  properties: { ...tcpBus.properties, type: { const: 'dlt645-tcp' }, host: { type: 'string', minLength: 1, description: 'TCP serial converter in front of a DL/T 645 RS-485 line' } },
};

const deviceCommon = {
  id,
  name: { type: 'string' },
  role: { enum: [...DEVICE_ROLES] },
  bus: { type: 'string' },
};
const deviceTail = {
  profile: { type: 'string', minLength: 1 },
  pollIntervalMs: ms(100, 86_400_000, 'poll interval (ms)'),
  staleAfterMs: ms(100, 86_400_000, 'values older than this are invalidated (ms)'),
  timeoutMs: ms(50, 60_000, 'per-request timeout (ms)'),
  tags: { type: 'object', additionalProperties: { type: 'string' } },
};

/** A meter on a DL/T 645 bus: `address` (12 digits, as on the name plate) instead of `unitId`. */
const dlt645Device = {
  type: 'object',
  required: ['id', 'role', 'bus', 'address', 'profile', 'pollIntervalMs'],
  additionalProperties: false,
  properties: { ...deviceCommon, address: { type: 'string', pattern: '^[0-9]{12}$', description: 'DL/T 645 meter address, 12 digits' }, ...deviceTail },
};

const modbusDevice = {
  type: 'object',
  required: ['id', 'role', 'bus', 'unitId', 'profile', 'pollIntervalMs'],
  additionalProperties: false,
  properties: { ...deviceCommon, unitId: { type: 'integer', minimum: 0, maximum: 255 }, ...deviceTail },
};

/**
 * JSON Schema of the core of the site configuration file (ajv, draft-07): version, site, gateway,
 * profile directories, buses and devices. The features' sections are added by siteConfigSchema().
 */
export const coreConfigSchema = {
  $id: 'https://carbonedge.dev/schemas/site-config.v1.json',
  type: 'object',
  required: ['version', 'site', 'gateway', 'buses', 'devices'],
  additionalProperties: false,
  properties: {
    version: { const: 1, description: 'configuration format version' },
    site: {
      type: 'object',
      required: ['id'],
      additionalProperties: false,
      properties: { id, name: { type: 'string' }, timezone: { type: 'string', description: 'IANA time zone, e.g. Asia/Shanghai' } },
    },
    gateway: {
      type: 'object',
      required: ['id'],
      additionalProperties: false,
      properties: {
        id,
        dryRun: { type: 'boolean', description: 'read-only: no write reaches any device' },
        staleAfterMs: ms(100, 86_400_000, 'values older than this are invalidated (ms)'),
        dataDir: { type: 'string', minLength: 1 },
      },
    },
    profileDirs: { type: 'array', items: { type: 'string', minLength: 1 } },
    buses: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['type'],
        properties: { type: { enum: ['tcp', 'rtu', 'rtu-over-tcp', 'dlt645', 'dlt645-tcp'], description: 'bus type: Modbus tcp, rtu, rtu-over-tcp; DL/T 645 dlt645 (serial), dlt645-tcp (TCP serial converter)' } },
        // A bus of an unknown type gets one error (its type), not every field of the tcp branch.
        if: { required: ['type'], properties: { type: { const: 'rtu' } } },
        then: rtuBus,
        else: {
          if: { required: ['type'], properties: { type: { const: 'dlt645' } } },
          then: dlt645Bus,
          else: {
            if: { required: ['type'], properties: { type: { const: 'dlt645-tcp' } } },
            then: dlt645TcpBus,
            else: { if: { required: ['type'], properties: { type: { enum: ['tcp', 'rtu-over-tcp'] } } }, then: tcpBus },
          },
        },
      },
    },
    devices: {
      type: 'array',
      minItems: 1,
      // A device with an `address` is a DL/T 645 meter; the cross checks match it to its bus type.
      items: { if: { required: ['address'] }, then: dlt645Device, else: modbusDevice },
    },
  },
} as const;

/**
 * The site configuration schema for a list of features: the core plus each feature's sections.
 * Throws when two features claim one key (or a feature claims a core key): a wiring error.
 */
export function siteConfigSchema(features: readonly { name: string; sections?: readonly ConfigSection[] }[]): object {
  const properties: Record<string, object> = { ...coreConfigSchema.properties };
  const owner = new Map<string, string>();
  for (const f of features) {
    for (const s of f.sections ?? []) {
      if (s.key in properties) throw new Error(`config section '${s.key}' of feature '${f.name}' is already defined${owner.has(s.key) ? ` by feature '${owner.get(s.key)}'` : ' by the core schema'}`);
      properties[s.key] = s.schema;
      owner.set(s.key, f.name);
    }
  }
  return { ...coreConfigSchema, properties };
}
