import type { ConfigIssue } from '../runtime/config/errors.js';
import type { SiteConfig } from '../runtime/config/types.js';
import type { Profile } from '../drivers/profiles/types.js';

/** JSON Schema of the `rules` section (an array) of the site config. */
export const rulesConfigSchema: Record<string, unknown> = { type: 'array' };
/** JSON Schema of the `control` section of the site config. */
export const controlConfigSchema: Record<string, unknown> = { type: 'object' };

/** Cross-reference checks (points exist, types, conflicting writers); `file` for messages. */
export function validateRulesConfig(_config: SiteConfig, _profiles: Map<string, Profile>, _file: string): ConfigIssue[] {
  return [];
}
