/**
 * Site config loading for the gateway's feature list: the schema and checks of every feature's
 * sections come from FEATURES (tools/cli/features.ts).
 */
import { createSiteLoader } from '../../runtime/config/load.js';
import { FEATURES } from './features.js';

export type { LoadedSite } from '../../runtime/config/load.js';

export const siteLoader = createSiteLoader(FEATURES);
export const { validateSiteConfig, loadSiteConfigFile, loadSiteConfigText } = siteLoader;
/** The site config's JSON Schema (core + every feature's sections). */
export const siteConfigSchema = siteLoader.schema;

