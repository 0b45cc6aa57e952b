import path from 'node:path';
import type { AnyProfile } from '../../drivers/profiles/types.js';
import { builtinProfileDir, loadProfiles } from '../../drivers/profiles/load.js';
import type { FeatureDeclaration } from '../feature-api.js';
import { validateDetailed } from './ajv-issues.js';
import { coreCrossCheck } from './core-check.js';
import { schemaValidator as precompiledValidator } from './precompiled.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { siteConfigSchema } from './schema.js';
import type { SiteConfig } from './types.js';
import { MAX_CONFIG_BYTES, readTextFile } from './read-file.js';
import { parseSource } from './yaml-source.js';

const CORE_KEYS = ['version', 'site', 'gateway', 'profileDirs', 'buses', 'devices'];

/** A path equal to, inside or around one of `paths`. */
function touches(paths: readonly string[], p: string): boolean {
  return paths.some((q) => q === p || q.startsWith(`${p}/`) || p.startsWith(`${q}/`) || q === '');
}

export interface LoadedSite {
  config: SiteConfig;
  /** Profiles of every protocol by id (DL/T 645 meters on `dlt645` / `dlt645-tcp` buses use DL/T 645 ones). */
  profiles: Map<string, AnyProfile>;
  /** The config file (or a label such as `<built-in demo config>`). */
  file: string;
}

/** What the loader needs of each feature: its sections and their checks. */
export type ConfigFeature = Pick<FeatureDeclaration, 'name' | 'sections' | 'check'>;

export interface ValidateOptions {
  /** Line and column of a path in the file (from parseSource). */
  locate?: (path: string) => { line?: number; column?: number };
  /** Directory `profileDirs` are relative to (default: the file's). */
  baseDir?: string;
  /** Profiles already loaded (e.g. by `carbonedge read`): used instead of loading `profileDirs`. */
  profiles?: Map<string, AnyProfile>;
}

/** The site config loader for a list of features (the composition root's: tools/cli/site.ts). */
export interface SiteLoader {
  /** The JSON Schema the loader validates against (core + the features' sections). */
  readonly schema: object;
  /**
   * Validate a parsed site configuration: schema, profiles, cross references and every section's
   * own checks. Throws ConfigError listing every issue (file, path, line, what was expected).
   */
  validateSiteConfig(value: unknown, file: string, opts?: ValidateOptions): LoadedSite;
  /** Read, parse and validate a site configuration file (YAML or JSON). */
  loadSiteConfigFile(file: string): Promise<LoadedSite>;
  loadSiteConfigText(text: string, file: string): LoadedSite;
}

export function createSiteLoader(features: readonly ConfigFeature[]): SiteLoader {
  const schema = siteConfigSchema(features);
  const checks = features.flatMap((f) => (f.check ? [{ name: f.name, keys: (f.sections ?? []).map((x) => x.key), check: f.check }] : []));

  function validateSiteConfig(
    value: unknown,
    file: string,
    opts: ValidateOptions = {},
  ): LoadedSite {
    const schema$ = validateDetailed(precompiledValidator('site-config', schema), value, file);
    const schemaIssues = schema$.issues;
    const isObj = typeof value === 'object' && value !== null;
    const profileDirs: unknown = isObj && 'profileDirs' in value ? value.profileDirs : undefined;
    const baseDir = opts.baseDir ?? (file.startsWith('<') ? process.cwd() : path.dirname(path.resolve(file)));
    const dirs = [builtinProfileDir(), ...(Array.isArray(profileDirs) ? profileDirs.filter((d) => typeof d === 'string').map((d) => path.resolve(baseDir, d)) : [])];
    const { profiles, issues: profileIssues } = opts.profiles ? { profiles: opts.profiles, issues: [] } : loadProfiles(dirs);
    // Schema and cross-reference errors in one pass: the core checks read the raw value through
    // guards and skip what the schema already reported; a feature's checks run when its own
    // sections and the core are well-formed (an unknown key or a number out of range is not malformed).
    const reportedPaths = [...schemaIssues.map((i) => i.path), ...schema$.malformed];
    let issues: ConfigIssue[] = [...schemaIssues, ...coreCrossCheck(value, profiles, file, (p) => touches(reportedPaths, p))];
    const coreMalformed = !isObj || CORE_KEYS.some((k) => touches(schema$.malformed, `/${k}`));
    for (const { name, keys, check } of checks) {
      if (coreMalformed || keys.some((k) => touches(schema$.malformed, `/${k}`))) continue;
      try {
        // The core and this feature's sections passed the schema's shape (runtime/config/schema.ts).
        issues.push(...check(value as SiteConfig, profiles, file));
      } catch (err) {
        issues.push({ file, path: '', code: 'CE_CONFIG_INVALID', message: `internal validation error (${name}): ${(err as Error).message}` });
      }
    }
    if (opts.locate) issues = issues.map((i) => (i.line || i.file !== file ? i : { ...i, ...opts.locate!(i.path) }));
    issues.push(...profileIssues);
    if (issues.length) throw new ConfigError(issues);
    return { config: value as SiteConfig, profiles, file };
  }

  function loadSiteConfigText(text: string, file: string): LoadedSite {
    const source = parseSource(text, file);
    if (source.syntaxIssues.length) throw new ConfigError(source.syntaxIssues);
    return validateSiteConfig(source.value, file, { locate: source.locate });
  }

  async function loadSiteConfigFile(file: string): Promise<LoadedSite> {
    const read = readTextFile(file, 'the configuration file', MAX_CONFIG_BYTES);
    if ('issue' in read) throw new ConfigError([read.issue]);
    return loadSiteConfigText(read.text, file);
  }

  return { schema, validateSiteConfig, loadSiteConfigFile, loadSiteConfigText };
}
