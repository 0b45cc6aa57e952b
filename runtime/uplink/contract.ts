import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;

export { formatAjvErrors } from './ajv-errors.js';

/**
 * The MQTT contract as data: runtime/uplink/contract/ holds the envelope and status schemas and
 * one record schema per stream, `<stream>.v<N>.schema.json` (JSON Schema draft-07 or 2020-12),
 * with examples in contract/examples/. This module loads and compiles them (receiver, tests); the
 * gateway compiles only its command schemas, on the first command (./command-schemas.ts).
 */

/** Absolute path of runtime/uplink/contract/ (found by walking up to package.json: works from source and dist/). */
export function contractDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'runtime', 'uplink', 'contract');
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('runtime/uplink/contract/ not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export interface Contract {
  dir: string;
  envelope: ValidateFunction;
  status: ValidateFunction;
  /** Retained `<prefix>/metadata` (metadata.v1) and `<prefix>/device/<id>/availability` (availability.v1). */
  metadata: ValidateFunction;
  availability: ValidateFunction;
  /** Record validator of `stream` at `version` (falls back to the highest version present). */
  record(stream: string, version: number): ValidateFunction | undefined;
  /** Streams with a record schema, and their versions. */
  streams: Map<string, number[]>;
  /** Validator of the payload of command `<name>` (`command-<name>.v<N>.schema.json`, highest version: the one the gateway accepts). */
  command(name: string): ValidateFunction | undefined;
  /** Commands with a schema (`rules`, `instruments`). */
  commands: string[];
  /** Answers on `<prefix>/cmd/<name>/response` (`command-response.v1.schema.json`). */
  commandResponse: ValidateFunction;
}

const SCHEMA_FILE = /^(.+)\.v(\d+)\.schema\.json$/;
const NOT_STREAMS = new Set(['envelope', 'status', 'metadata', 'availability']);
/** `command-<name>` files are inbound commands and their answers, not record streams. */
const COMMAND_PREFIX = 'command-';

function withFormats<T extends Ajv | Ajv2020>(ajv: T): T {
  addFormats(ajv);
  return ajv;
}

/** Compiles contract files of `dir`; each ajv instance (draft-07, 2020-12) is made on first need. */
function schemaCompiler(dir: string): (file: string) => ValidateFunction {
  let ajv7: Ajv | undefined;
  let ajv2020: Ajv2020 | undefined;
  const opts = { allErrors: true, strict: false, allowUnionTypes: true };
  return (file) => {
    const schema = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { $schema?: string; $id?: string };
    const ajv = String(schema.$schema ?? '').includes('2020-12') ? (ajv2020 ??= withFormats(new Ajv2020(opts))) : (ajv7 ??= withFormats(new Ajv(opts)));
    const { $id: _drop, ...rest } = schema; // files are compiled independently; ids need not be unique across owners
    try {
      return ajv.compile(rest);
    } catch (err) {
      throw new Error(`contract schema ${file}: ${(err as Error).message}`);
    }
  };
}

/**
 * The validator of command `<name>`'s payload at the highest version in `dir` (the one the
 * gateway accepts), compiled alone; undefined when the contract has no schema for it.
 */
export function loadCommandValidator(name: string, dir = contractDir()): ValidateFunction | undefined {
  let best: { version: number; file: string } | undefined;
  for (const f of readdirSync(dir)) {
    const m = SCHEMA_FILE.exec(f);
    if (m && m[1] === `${COMMAND_PREFIX}${name}` && (!best || Number(m[2]) > best.version)) best = { version: Number(m[2]), file: f };
  }
  return best && schemaCompiler(dir)(best.file);
}

export function loadContract(dir = contractDir()): Contract {
  const compile = schemaCompiler(dir);
  const validators = new Map<string, ValidateFunction>();
  const streams = new Map<string, number[]>();
  let envelope: ValidateFunction | undefined;
  let status: ValidateFunction | undefined;
  let metadata: ValidateFunction | undefined;
  let availability: ValidateFunction | undefined;
  const commands = new Map<string, { version: number; validate: ValidateFunction }>();
  for (const f of readdirSync(dir).sort()) {
    const m = SCHEMA_FILE.exec(f);
    if (!m) continue;
    const [, name, v] = m;
    const version = Number(v);
    if (name === 'envelope' && version === 1) envelope = compile(f);
    else if (name === 'status' && version === 1) status = compile(f);
    else if (name === 'metadata' && version === 1) metadata = compile(f);
    else if (name === 'availability' && version === 1) availability = compile(f);
    if (NOT_STREAMS.has(name!)) continue;
    if (name!.startsWith(COMMAND_PREFIX)) {
      const cmd = name!.slice(COMMAND_PREFIX.length);
      const prev = commands.get(cmd);
      if (!prev || prev.version < version) commands.set(cmd, { version, validate: compile(f) });
      continue;
    }
    validators.set(`${name}@${version}`, compile(f));
    streams.set(name!, [...(streams.get(name!) ?? []), version].sort((a, b) => a - b));
  }
  if (!envelope || !status || !metadata || !availability) throw new Error(`contract directory ${dir} lacks envelope.v1 / status.v1 / metadata.v1 / availability.v1 schemas`);
  const commandResponse = commands.get('response')?.validate;
  if (!commandResponse) throw new Error(`contract directory ${dir} lacks command-response.v1.schema.json`);
  commands.delete('response');
  return {
    dir,
    envelope,
    status,
    metadata,
    availability,
    streams,
    commandResponse,
    commands: [...commands.keys()].sort(),
    command: (name) => commands.get(name)?.validate,
    record(stream, version) {
      const exact = validators.get(`${stream}@${version}`);
      if (exact) return exact;
      const versions = streams.get(stream);
      return versions ? validators.get(`${stream}@${versions[versions.length - 1]}`) : undefined;
    },
  };
}

