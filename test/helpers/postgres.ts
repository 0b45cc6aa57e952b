import { PgCluster } from '../../tools/ingest/pg-cluster.js';

export { PgCluster };

/**
 * Whether PostgreSQL 15's server binaries are installed (postgresql-15, installed by .ci/run).
 * In CI (CI env set) a missing server is a failure, not a skip: call at module level and pass
 * the result to `describe.runIf(...)`. Start clusters with `PgCluster.start()` (temp directory,
 * random port, run as `nobody` when we are root) and `close()` them afterwards.
 */
export function havePostgres(): boolean {
  if (PgCluster.available()) return true;
  if (process.env.CI) throw new Error('interop test peer missing in CI: postgresql-15 (/usr/lib/postgresql/15/bin; install with .ci/run)');
  return false;
}
