/**
 * Stable codes of configuration errors (`CE_CONFIG_...`). Every ConfigIssue carries one; `check`,
 * `run` and the CLI print it beside the message, and the README's "Error codes" table lists each
 * (test/config/error-codes.test.ts keeps the two in step). A code, once published, keeps its meaning.
 */
export const CONFIG_ERROR_CODES = {
  CE_CONFIG_SCHEMA: 'a value does not have the type, range or form the schema expects, or a required key is missing',
  CE_CONFIG_UNKNOWN_KEY: 'a key the format does not know (often a typo: the message suggests the closest known key)',
  CE_CONFIG_ENUM: 'a value outside the allowed set (the message lists it and suggests the closest)',
  CE_CONFIG_TIMEZONE: 'not an IANA time zone known to the runtime (the message suggests the closest)',
  CE_CONFIG_DUPLICATE_ID: 'an id (bus, device, profile, rule) defined twice',
  CE_CONFIG_UNKNOWN_REF: 'a reference to a bus, profile or device that does not exist',
  CE_CONFIG_CONFLICT: 'two parts claim one resource (a serial port, a unit id or meter address on a bus)',
  CE_CONFIG_PROTOCOL_MISMATCH: 'a device, its bus and its profile speak different protocols (a `unitId` on a DL/T 645 line, a meter `address` on a Modbus bus, a Modbus profile for a meter or the reverse)',
  CE_CONFIG_INVALID: 'a value the schema allows but the site does not (checked against profiles, rules, accounting)',
  CE_CONFIG_YAML: 'the file is not valid YAML/JSON (syntax, or aliases expanding past the limit)',
  CE_CONFIG_READ: 'a file or directory cannot be read',
  CE_CONFIG_NOT_REGULAR_FILE: 'a config, profile or rule path is not a regular file (a FIFO, a device such as /dev/zero)',
  CE_CONFIG_FILE_TOO_LARGE: 'a config, profile or rule file is larger than the limit',
  CE_CONFIG_UNSUPPORTED: 'a feature the format names but this version does not support yet (none at present: dlt645 buses, the first such, are supported now)',
  CE_CONFIG_DATA_DIR_LOCKED: 'another gateway (the message gives its pid) runs on the same data directory',
  CE_CONFIG_HTTP_EXPOSED: 'the local page and HTTP API would listen on a non-loopback address without a token (`http.token` or `http.tokenEnv`)',
  CE_CONFIG_EVIDENCE: 'a contractual instrument or offset that fails the quality criteria: no serials or evidence, non-integer GEC quantity, outside its validity, foreign market, serials claimed twice',
  CE_CONFIG_NO_FUEL_SOURCE: 'a fossil generator with neither a fuel meter nor an explicit estimate method: its Scope 1 would silently be 0',
} as const;

export type ConfigErrorCode = keyof typeof CONFIG_ERROR_CODES;

/** The code of an issue that does not name one: a check of a feature's section. */
export const DEFAULT_CONFIG_CODE: ConfigErrorCode = 'CE_CONFIG_INVALID';
