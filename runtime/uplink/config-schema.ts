import type { ConfigIssue } from '../config/errors.js';
import type { SiteConfig } from '../config/types.js';
import type { Profile } from '../../drivers/profiles/types.js';

/** JSON Schema of this section of the site config (composed in runtime/config/schema.ts). */
export const uplinkConfigSchema: Record<string, unknown> = { type: 'object' };

/** Cross-reference checks the schema cannot express; `file` is the config file for messages. */
export function validateUplinkConfig(_config: SiteConfig, _profiles: Map<string, Profile>, _file: string): ConfigIssue[] {
  return [];
}
