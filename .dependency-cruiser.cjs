/**
 * Import rules checked by `npm test` (npm run depcheck): no cycles, and no import against the data
 * flow  bus -> readings -> metering -> (accounting, rules) -> store -> uplink.
 *
 * Layers (a module may import its own layer, earlier layers and the core; never a later one):
 *   core       runtime/{types,clock-step,logger,package-root,services,service-registry}.ts, runtime/config/
 *              (but load.ts), runtime/persistence/, the outbox interfaces (runtime/outbox/outbox.ts),
 *              runtime/supervision/ (liveness registry, systemd notify, parent watch),
 *              the profile model (drivers/profiles/types.ts, canonical.ts)
 *   bus        drivers/ (never imports a feature, the composition root or tools/)
 *   readings   runtime/readings-hub.ts, runtime/feature-api.ts, runtime/gateway.ts,
 *              runtime/acquisition/, runtime/config/load.ts (validates sites against profiles)
 *   metering   runtime/metering/
 *   decisions  runtime/accounting/, rules/, runtime/control/
 *   store      runtime/store/, runtime/outbox/
 *   uplink     runtime/uplink/
 *   http       runtime/http/ (the local page and API: reads every part's services)
 *   tools/     the composition root (CLI), simulators, receiver, benchmarks: may import anything;
 *              nothing outside tools/ and test/ imports tools/.
 */
const CORE = '^(runtime/(types|clock-step|logger|package-root|services|service-registry)\\.ts$|runtime/supervision/|runtime/config/(?!load\\.ts$)|runtime/persistence/|runtime/outbox/outbox\\.ts$|drivers/profiles/(types|canonical)\\.ts$)';
const BUS = '^drivers/(?!profiles/(types|canonical)\\.ts$)';
const READINGS = '^runtime/((readings-hub|feature-api|gateway)\\.ts$|acquisition/|config/load\\.ts$)';
const METERING = '^runtime/metering/';
const ACCOUNTING = '^runtime/accounting/';
const RULES = '^(rules/|runtime/control/)';
const STORE = '^runtime/(store/|outbox/(?!outbox\\.ts$))';
const UPLINK = '^runtime/uplink/';
const HTTP = '^runtime/http/';
const TOOLS = '^tools/';
const later = (...layers) => `(${layers.join('|')})`;

const upward = (name, from, ...to) => ({
  name,
  comment: `${name}: imports against the data flow (bus -> readings -> metering -> accounting/rules -> store -> uplink)`,
  severity: 'error',
  from: { path: from },
  to: { path: later(...to) },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'import cycles (type-only imports included) make load order and layering accidental',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    upward('core-upward', CORE, BUS, READINGS, METERING, ACCOUNTING, RULES, STORE, UPLINK, HTTP, TOOLS),
    upward('bus-upward', BUS, READINGS, METERING, ACCOUNTING, RULES, STORE, UPLINK, HTTP, TOOLS),
    upward('readings-upward', READINGS, METERING, ACCOUNTING, RULES, STORE, UPLINK, HTTP, TOOLS),
    upward('metering-upward', METERING, ACCOUNTING, RULES, STORE, UPLINK, HTTP, TOOLS),
    upward('accounting-upward', ACCOUNTING, RULES, STORE, UPLINK, HTTP, TOOLS),
    // Rules may read accounting's factor library (replays price CO2); accounting never reads rules.
    upward('rules-upward', RULES, STORE, UPLINK, HTTP, TOOLS),
    upward('store-upward', STORE, UPLINK, HTTP, TOOLS),
    upward('uplink-upward', UPLINK, HTTP, TOOLS),
    {
      name: 'gateway-only-from-tools',
      comment: 'the Gateway is created by the composition root (tools/cli); no feature knows it',
      severity: 'error',
      from: { path: '^(runtime|drivers|rules)/' },
      to: { path: '^runtime/gateway\\.ts$' },
    },
    {
      name: 'runtime-outside-layers',
      comment: 'every runtime module belongs to a layer (add new directories to .dependency-cruiser.cjs)',
      severity: 'error',
      from: { path: '^runtime/', pathNot: [CORE, READINGS, METERING, ACCOUNTING, RULES, STORE, UPLINK, HTTP].join('|') },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
  },
};
