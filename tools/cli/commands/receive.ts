import { Receiver, type GapReport, type MessageEvent } from '../../receiver/receiver.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge receive --url URL [--db FILE] [--topic PREFIX] [--json] [--client-id ID] [--username U] [--password P] [--ca FILE] [--cert FILE --key FILE] [--insecure] [--duration SECONDS]\n' +
  '       carbonedge receive --url MQTT_URL --pg POSTGRES_URL [--share GROUP] [--connections N] [--metrics HOST:PORT] [--topic PREFIX] [--client-id ID] [--username U] [--password P] [--ca FILE] [--cert FILE --key FILE] [--insecure] [--duration SECONDS]';

const ranges = (g: GapReport) => g.missing.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');

export const command: Command = {
  summary:
    'Reference MQTT receiver: subscribe, validate every message against the contract schemas, deduplicate by record id, store in SQLite, report sequence gaps.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        url: { type: 'string', short: 'u' },
        db: { type: 'string' },
        topic: { type: 'string' },
        json: { type: 'boolean' },
        'client-id': { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean' },
        duration: { type: 'string' },
        pg: { type: 'string' },
        share: { type: 'string' },
        connections: { type: 'string' },
        metrics: { type: 'string' },
      });
      if (!values.url) throw new UsageError('--url URL is required (e.g. mqtt://127.0.0.1:1883)');
      if (!/^(mqtts?|wss?):\/\//.test(values.url)) throw new UsageError(`--url: expected mqtt://, mqtts://, ws:// or wss://, got '${values.url}'`);
      if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('--cert and --key go together');
      const duration = values.duration === undefined ? undefined : Number(values.duration);
      if (duration !== undefined && !(duration > 0)) throw new UsageError(`--duration: expected a positive number of seconds, got '${values.duration}'`);
      if (values.pg === undefined && (values.share !== undefined || values.connections !== undefined || values.metrics !== undefined)) throw new UsageError('--share, --connections and --metrics go with --pg POSTGRES_URL');
      if (values.pg !== undefined) {
        if (values.db !== undefined) throw new UsageError('--db (SQLite) and --pg (PostgreSQL) are two sinks: give one');
        const { receiveIntoPostgres } = await import('../../ingest/receive-pg.js'); // pg loads only for --pg
        return receiveIntoPostgres({ ...values, url: values.url, pg: values.pg, duration });
      }
      const json = !!values.json;
      const out = (s: string) => process.stdout.write(`${s}\n`);
      const onMessage = (ev: MessageEvent) => {
        if (ev.kind === 'other') return;
        if (json) {
          out(JSON.stringify({ type: 'message', ...ev }));
          return;
        }
        if (ev.newEpoch) out(`${ev.gateway}: new store epoch ${ev.epoch || '(legacy)'}: its database started over; sequence numbers restart at 1 under it (not a gap, not duplicates)`);
        if (ev.kind === 'status') out(`${ev.topic}: status ${ev.error ? `INVALID (${ev.error})` : 'ok'}`);
        else if (ev.kind === 'response') out(`${ev.topic}: command response ${ev.error ? `INVALID (${ev.error})` : 'ok'}`);
        else if (ev.error) out(`${ev.topic}: INVALID ${ev.error}`);
        else
          out(
            `${ev.gateway} ${ev.stream}${ev.epoch ? ` epoch ${ev.epoch}` : ''} seq ${ev.firstSeq}..${ev.lastSeq}: ${ev.accepted} new, ${ev.duplicates} duplicate, ${ev.invalid} invalid${ev.backfill ? ' (backfill)' : ''}`,
          );
      };
      const receiver = new Receiver({
        url: values.url,
        db: values.db ?? 'carbonedge-receiver.db',
        topic: values.topic,
        clientId: values['client-id'],
        username: values.username,
        password: values.password,
        tls: { ca: values.ca, cert: values.cert, key: values.key, rejectUnauthorized: !values.insecure },
        onMessage,
      });
      await receiver.start();
      process.stderr.write(`receiving from ${values.url} under '${values.topic ?? 'carbonedge/'}#' (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
        if (duration !== undefined) setTimeout(done, duration * 1000);
      });
      await receiver.stop();
      const stats = receiver.stats();
      const gaps = receiver.gaps();
      receiver.close();
      if (json) out(JSON.stringify({ type: 'summary', stats, gaps }));
      else {
        out(
          `summary: ${stats.messages} messages, ${stats.records} records, ${stats.duplicates} duplicates dropped, ${stats.invalidMessages} invalid messages, ${stats.invalidRecords} invalid records, ${stats.epochChanges} store epoch changes`,
        );
        for (const g of gaps) out(`  ${g.gateway} ${g.stream}${g.epoch ? ` epoch ${g.epoch}` : ''}: seq ${g.firstSeq}..${g.lastSeq}, ${g.records} records, ${g.missing.length ? `GAPS ${ranges(g)}` : 'no gaps'}`);
      }
      return gaps.some((g) => g.missing.length > 0) || stats.invalidMessages > 0 || stats.invalidRecords > 0 ? 1 : 0;
    }),
};
