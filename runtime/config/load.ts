import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dlt645Profile, Profile } from '../../drivers/profiles/types.js';
import { builtinProfileDir, loadProfiles } from '../../drivers/profiles/load.js';
import type { FeatureDeclaration } from '../feature-api.js';
import { validateWith } from './ajv-issues.js';
import { schemaValidator as precompiledValidator } from './precompiled.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { siteConfigSchema } from './schema.js';
import { isDlt645Bus, type SiteBusConfig, type SiteConfig } from './types.js';
import { parseSource } from './yaml-source.js';

export interface LoadedSite {
  config: SiteConfig;
  profiles: Map<string, Profile>;
  /** DL/T 645 profiles (devices on `dlt645` / `dlt645-tcp` buses use these). */
  dlt645Profiles: Map<string, Dlt645Profile>;
  /** The config file (or a label such as `<built-in demo config>`). */
  file: string;
}

/** What the loader needs of each feature: its sections and their checks. */
export type ConfigFeature = Pick<FeatureDeclaration, 'name' | 'sections' | 'check'>;

/** What a physical port is, for "one bus per port": a serial path, a serial converter, a Modbus TCP endpoint. */
function endpointOf(b: SiteBusConfig): string {
  if (b.type === 'rtu' || b.type === 'dlt645') return `serial:${path.resolve(b.path)}`;
  if (b.type === 'rtu-over-tcp' || b.type === 'dlt645-tcp') return `serial-server:${b.host}:${b.port}`;
  return `${b.type}:${b.host}:${b.port}`;
}

/** Cross-reference checks of the core sections (buses, devices, profiles). */
function crossCheck(config: SiteConfig, profiles: Map<string, Profile>, file: string, dlt645Profiles = new Map<string, Dlt645Profile>()): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const busIds = new Map<string, number>();
  const ports = new Map<string, string>();
  config.buses.forEach((b, i) => {
    if (busIds.has(b.id)) issues.push({ file, path: `/buses/${i}/id`, message: `duplicate bus id '${b.id}' (also /buses/${busIds.get(b.id)})` });
    else busIds.set(b.id, i);
    // A physical port is owned by exactly one bus object: two would corrupt each other's frames.
    const endpoint = endpointOf(b);
    const other = ports.get(endpoint);
    if (other !== undefined && (b.type === 'rtu' || b.type === 'dlt645')) {
      issues.push({ file, path: `/buses/${i}/path`, message: `serial port ${b.path} is already used by bus '${other}'; put all devices of one RS-485 line on one bus` });
    } else if (other !== undefined && (b.type === 'rtu-over-tcp' || b.type === 'dlt645-tcp')) {
      issues.push({ file, path: `/buses/${i}/host`, message: `serial device server ${b.host}:${b.port} is already used by bus '${other}'; put all devices of one RS-485 line on one bus` });
    }
    ports.set(endpoint, b.id);
  });
  const deviceIds = new Map<string, number>();
  const units = new Map<string, string>();
  config.devices.forEach((d, i) => {
    if (deviceIds.has(d.id)) issues.push({ file, path: `/devices/${i}/id`, message: `duplicate device id '${d.id}' (also /devices/${deviceIds.get(d.id)})` });
    else deviceIds.set(d.id, i);
    const busIndex = busIds.get(d.bus);
    if (busIndex === undefined) {
      issues.push({ file, path: `/devices/${i}/bus`, message: `unknown bus '${d.bus}' (expected one of: ${[...busIds.keys()].join(', ') || 'none defined'})` });
    } else {
      const bus = config.buses[busIndex]!;
      if (isDlt645Bus(bus) !== (d.address !== undefined)) {
        issues.push(
          d.address === undefined
            ? { file, path: `/devices/${i}`, message: `bus '${bus.id}' is a DL/T 645 line: expected the meter's 12-digit 'address' instead of 'unitId'` }
            : { file, path: `/devices/${i}/address`, message: `bus '${bus.id}' is a Modbus bus (${bus.type}): a meter 'address' needs a bus of type dlt645 or dlt645-tcp; Modbus devices take 'unitId'` },
        );
      } else if (d.address === undefined && bus.type !== 'tcp' && (d.unitId < 1 || d.unitId > 247)) {
        issues.push({ file, path: `/devices/${i}/unitId`, message: `expected a unit id 1..247 on serial bus '${bus.id}', got ${d.unitId}` });
      }
      const field = d.address === undefined ? 'unitId' : 'address';
      const unitKey = `${d.bus}#${d.address ?? d.unitId}`;
      const owner = units.get(unitKey);
      if (owner) issues.push({ file, path: `/devices/${i}/${field}`, message: `${d.address === undefined ? 'unit id' : 'meter address'} ${d.address ?? d.unitId} on bus '${d.bus}' is already used by device '${owner}'` });
      else units.set(unitKey, d.id);
    }
    const dlt645 = dlt645Profiles.get(d.profile);
    if (d.address !== undefined || dlt645) {
      if (!dlt645) {
        const known = [...dlt645Profiles.keys()].sort();
        issues.push({ file, path: `/devices/${i}/profile`, message: `expected a DL/T 645 profile for the meter at address ${d.address} (one of: ${known.join(', ') || 'none'}), got '${d.profile}'` });
      } else if (d.address === undefined) {
        issues.push({ file, path: `/devices/${i}/profile`, message: `profile '${d.profile}' is a DL/T 645 profile: it needs a meter 'address' on a dlt645 or dlt645-tcp bus` });
      }
      return;
    }
    const profile = profiles.get(d.profile);
    if (!profile) {
      const known = [...profiles.keys()].sort();
      issues.push({ file, path: `/devices/${i}/profile`, message: `unknown profile '${d.profile}' (expected one of: ${known.join(', ')})` });
    } else {
      // Same rule as the poller: the device's own timeout, else the longer of profile and bus.
      const busTimeout = busIndex === undefined ? undefined : config.buses[busIndex]!.timeoutMs;
      const timeout = d.timeoutMs ?? Math.max(profile.limits.timeoutMs, busTimeout ?? 0);
      if (d.pollIntervalMs * 4 < timeout) {
        issues.push({ file, path: `/devices/${i}/pollIntervalMs`, message: `poll interval ${d.pollIntervalMs} ms is too short for a request timeout of ${timeout} ms (expected at least ${Math.ceil(timeout / 4)} ms)` });
      }
    }
  });
  return issues;
}

/** The site config loader for a list of features (the composition root's: tools/cli/site.ts). */
export interface SiteLoader {
  /** The JSON Schema the loader validates against (core + the features' sections). */
  readonly schema: object;
  /**
   * Validate a parsed site configuration: schema, profiles, cross references and every section's
   * own checks. Throws ConfigError listing every issue (file, path, line, what was expected).
   */
  validateSiteConfig(value: unknown, file: string, opts?: { locate?: (path: string) => { line?: number; column?: number }; baseDir?: string }): LoadedSite;
  /** Read, parse and validate a site configuration file (YAML or JSON). */
  loadSiteConfigFile(file: string): Promise<LoadedSite>;
  loadSiteConfigText(text: string, file: string): LoadedSite;
}

export function createSiteLoader(features: readonly ConfigFeature[]): SiteLoader {
  const schema = siteConfigSchema(features);
  const checks = features.flatMap((f) => (f.check ? [{ name: f.name, check: f.check }] : []));

  function validateSiteConfig(
    value: unknown,
    file: string,
    opts: { locate?: (path: string) => { line?: number; column?: number }; baseDir?: string } = {},
  ): LoadedSite {
    const schemaIssues = validateWith(precompiledValidator('site-config', schema), value, file);
    const raw = (value ?? {}) as Partial<SiteConfig>;
    const baseDir = opts.baseDir ?? (file.startsWith('<') ? process.cwd() : path.dirname(path.resolve(file)));
    const dirs = [builtinProfileDir(), ...(Array.isArray(raw.profileDirs) ? raw.profileDirs.map((d) => path.resolve(baseDir, String(d))) : [])];
    const { profiles, dlt645: dlt645Profiles, issues: profileIssues } = loadProfiles(dirs);
    let issues: ConfigIssue[] = [...schemaIssues];
    if (schemaIssues.length === 0) {
      const config = value as SiteConfig;
      issues.push(...crossCheck(config, profiles, file, dlt645Profiles));
      for (const { name, check } of checks) {
        try {
          issues.push(...check(config, profiles, file));
        } catch (err) {
          issues.push({ file, path: '', message: `internal validation error (${name}): ${(err as Error).message}` });
        }
      }
    }
    if (opts.locate) issues = issues.map((i) => (i.line || i.file !== file ? i : { ...i, ...opts.locate!(i.path) }));
    issues.push(...profileIssues);
    if (issues.length) throw new ConfigError(issues);
    return { config: value as SiteConfig, profiles, dlt645Profiles, file };
  }

  function loadSiteConfigText(text: string, file: string): LoadedSite {
    const source = parseSource(text, file);
    if (source.syntaxIssues.length) throw new ConfigError(source.syntaxIssues);
    return validateSiteConfig(source.value, file, { locate: source.locate });
  }

  async function loadSiteConfigFile(file: string): Promise<LoadedSite> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError([{ file, path: '', message: `cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
    }
    return loadSiteConfigText(text, file);
  }

  return { schema, validateSiteConfig, loadSiteConfigFile, loadSiteConfigText };
}
