import { createLogger } from '../../runtime/logger.js';
import { hostPort, UsageError } from '../cli/command.js';
import { serveMetrics } from './metrics.js';
import { PgIngest } from './pg-ingest.js';

/** `carbonedge receive --pg`: run the PostgreSQL ingest until SIGINT/SIGTERM or --duration; exit 0. */
export async function receiveIntoPostgres(v: {
  url: string;
  pg: string;
  share?: string;
  connections?: string;
  topic?: string;
  'client-id'?: string;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  json?: boolean;
  duration?: number;
  metrics?: string;
}): Promise<number> {
  if (!/^postgres(ql)?:\/\//.test(v.pg)) throw new UsageError(`--pg: expected postgres://user[:password]@host[:port]/database, got '${v.pg}'`);
  if (v.share !== undefined && !/^[^/+#$]+$/.test(v.share)) throw new UsageError(`--share: a share group name without '/', '+', '#' or '$', got '${v.share}'`);
  const connections = v.connections === undefined ? undefined : Number(v.connections);
  if (connections !== undefined && !(Number.isInteger(connections) && connections >= 1 && connections <= 64)) throw new UsageError(`--connections: expected 1..64, got '${v.connections}'`);
  if (connections !== undefined && connections > 1 && v.share === undefined) throw new UsageError('--connections above 1 needs --share (each connection of a plain subscription would get every message)');
  const metricsAt = v.metrics === undefined ? undefined : hostPort('--metrics', v.metrics);
  const logger = createLogger();
  const ingest = new PgIngest({
    url: v.url,
    pg: v.pg,
    share: v.share,
    topic: v.topic,
    clientId: v['client-id'],
    username: v.username,
    password: v.password,
    tls: { ca: v.ca, cert: v.cert, key: v.key, rejectUnauthorized: !v.insecure },
    connections,
    logger,
  });
  // Bound before connecting anywhere: a port in use fails at once. Served from then on (zeros until messages come).
  const metrics = metricsAt && (await serveMetrics(metricsAt.host, metricsAt.port, () => ingest.stats()));
  try {
    await ingest.start();
    if (metrics) logger.info({ metrics: `http://${v.metrics}/metrics` }, 'Prometheus metrics served');
    logger.info({ subscription: ingest.subscription, connections: ingest.connectionCount }, `receiving from ${v.url} into PostgreSQL`);
    const report = setInterval(() => logger.info(ingest.stats(), 'ingest counters'), 30_000);
    report.unref();
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      if (v.duration !== undefined) setTimeout(resolve, v.duration * 1000);
    });
    clearInterval(report);
    await ingest.stop();
  } finally {
    await metrics?.close();
  }
  const stats = ingest.stats();
  process.stdout.write(v.json ? `${JSON.stringify({ type: 'summary', stats })}\n` : `summary: ${stats.messages} messages, ${stats.inserted} records stored, ${stats.duplicates} duplicates dropped, ${stats.rejected} rejected, ${stats.batches} transactions, ${stats.pgFailures} PostgreSQL failures retried\n`);
  return 0;
}
