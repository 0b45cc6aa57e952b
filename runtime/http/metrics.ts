/**
 * `/metrics` in Prometheus text format (prom-client, its own registry, names under `carbonedge_`):
 * poll and error counters per device, HTTP request latency, outbox backlog and dropped records,
 * rule writes, process RSS. Values of the parts' own counters are read at scrape time.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GatewayContext } from '../feature-api.js';
import { ACQUISITION } from '../acquisition/service.js';
import { STORE } from '../store/service.js';
import { UPLINK } from '../uplink/service.js';
import { WRITE_GATE } from '../../rules/service.js';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requestSeconds: Histogram<'method' | 'route' | 'status'>;

  constructor(ctx: GatewayContext) {
    const r = this.registry;
    const polls = () => ctx.services.get(ACQUISITION)?.pollHealth() ?? [];
    /** A counter mirroring a count kept elsewhere (set at scrape time). */
    const mirror = (name: string, help: string, labelNames: string[], values: () => [Record<string, string>, number][]) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset();
          for (const [labels, v] of values()) this.inc(labels, v);
        },
      });
    const gauge = (name: string, help: string, labelNames: string[], values: () => [Record<string, string>, number][]) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset();
          for (const [labels, v] of values()) this.set(labels, v);
        },
      });
    mirror('carbonedge_device_polls_total', 'Poll cycles started per device', ['device'], () => polls().map((p) => [{ device: p.device }, p.polls]));
    mirror('carbonedge_device_poll_errors_total', 'Poll cycles with at least one failed request per device', ['device'], () => polls().map((p) => [{ device: p.device }, p.failed]));
    mirror('carbonedge_device_polls_skipped_total', 'Poll cycles skipped while the device was backed off', ['device'], () => polls().map((p) => [{ device: p.device }, p.skipped]));
    gauge('carbonedge_device_backed_off', '1 while the device is backed off after it stopped answering', ['device'], () => polls().map((p) => [{ device: p.device }, p.backedOff ? 1 : 0]));
    gauge('carbonedge_outbox_backlog_records', 'Records in the outbox not yet acknowledged by the broker', [], () => {
      const s = ctx.services.get(STORE)?.outbox.outboxStats();
      return s ? [[{}, s.records]] : [];
    });
    gauge('carbonedge_outbox_oldest_unsent_seconds', 'Age of the oldest unacknowledged outbox record (0 when empty)', [], () => {
      const s = ctx.services.get(STORE)?.outbox.outboxStats();
      return s ? [[{}, s.oldestCreated === undefined ? 0 : Math.max(0, ctx.clock.now() - s.oldestCreated) / 1000]] : [];
    });
    mirror('carbonedge_store_dropped_records_total', 'Records the store dropped (byte cap, disk errors, late readings), by kind', ['kind'], () => {
      const s = ctx.services.get(STORE)?.stats();
      if (!s) return [];
      const d = s.dropped;
      const outbox = Object.values(d.outboxByCap).reduce((a, b) => a + b, 0);
      return [
        [{ kind: 'raw_by_cap' }, d.rawByCap],
        [{ kind: 'one_minute_by_cap' }, d.oneMinuteByCap],
        [{ kind: 'fifteen_minute_by_cap' }, d.fifteenMinuteByCap],
        [{ kind: 'energy_by_cap' }, d.energyByCap],
        [{ kind: 'outbox_by_cap' }, outbox],
        [{ kind: 'readings_on_error' }, d.readingsOnError],
        [{ kind: 'late_readings' }, d.lateReadings],
      ];
    });
    gauge('carbonedge_uplink_connected', '1 while connected to the MQTT broker', [], () => {
      const u = ctx.services.get(UPLINK);
      return u ? [[{}, u.health().connected ? 1 : 0]] : [];
    });
    mirror('carbonedge_rule_writes_total', 'Writes through the write gate, by outcome (written, dry_run, failed)', ['status'], () => {
      const g = ctx.services.get(WRITE_GATE);
      return g ? [[{ status: 'written' }, g.counts.written], [{ status: 'dry_run' }, g.counts.dryRun], [{ status: 'failed' }, g.counts.failed]] : [];
    });
    gauge('carbonedge_process_resident_memory_bytes', 'Resident memory of the gateway process', [], () => [[{}, process.memoryUsage.rss()]]);
    this.requestSeconds = new Histogram({
      name: 'carbonedge_http_request_duration_seconds',
      help: 'HTTP API and page request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [r],
    });
  }
}
