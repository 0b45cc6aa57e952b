import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { contractDir, loadContract } from '../../runtime/uplink/contract.js';
import { decodeMessage } from '../../tools/ingest/decode.js';
import { simEnvelope } from '../../tools/ingest/sim-gateways.js';

/** The ingest's reading of one MQTT message (pure): what is stored, what is rejected and why. */
const contract = loadContract();
const good = simEnvelope(7, [1, 2, 3]);

describe('decodeMessage', () => {
  it('a valid envelope (plain or gzip) gives its records with ids, seqs, ts and epoch', () => {
    for (const [topic, payload] of [
      [good.topic, Buffer.from(good.payload)],
      [`${good.topic}/gzip`, zlib.gzipSync(good.payload)],
    ] as const) {
      const d = decodeMessage(contract, topic, payload);
      expect(d.kind).toBe('data');
      expect(d.rejected).toEqual([]);
      if (d.kind !== 'data') return;
      expect(d.records.map((r) => [r.id, r.seq, r.epoch, r.gateway, r.stream])).toEqual([1, 2, 3].map((s) => [`gw007/readings-1m/5f3a00000007-${s}`, s, '5f3a00000007', 'gw007', 'readings-1m']));
    }
  });

  it('rejects, with a reason, a record whose id does not match, one with a NUL character, and keeps the rest', () => {
    const env = JSON.parse(good.payload) as { records: Record<string, unknown>[] };
    env.records[0]!.id = 'gw007/readings-1m/5f3a00000007-9';
    env.records[1]!.device = 'dev\u0000x';
    const d = decodeMessage(contract, good.topic, Buffer.from(JSON.stringify(env)));
    expect(d.kind === 'data' && d.records.map((r) => r.seq)).toEqual([3]);
    expect(d.rejected.map((r) => [r.recordId, r.reason.split(':')[0]])).toEqual([
      ['gw007/readings-1m/5f3a00000007-9', "record id 'gw007/readings-1m/5f3a00000007-9' does not match its topic and envelope"],
      ['gw007/readings-1m/5f3a00000007-2', 'a NUL character (\\u0000) in the record'],
    ]);
  });

  it('rejects a stream or gateway that differs from the topic, and an oversized payload before parsing it', () => {
    expect(decodeMessage(contract, good.topic.replace('readings-1m', 'readings-15m'), Buffer.from(good.payload)).rejected[0]!.reason).toMatch(/^envelope stream 'readings-1m' does not match the topic's 'readings-15m'/);
    expect(decodeMessage(contract, good.topic.replace('gw007', 'gw008'), Buffer.from(good.payload)).rejected[0]!.reason).toMatch(/^envelope gateway 'gw007' is not in the topic/);
    const big = decodeMessage(contract, good.topic, Buffer.from(good.payload), { maxPayloadBytes: 100, maxInflatedBytes: 1000 });
    expect(big.rejected[0]!.reason).toBe(`payload of ${good.payload.length} bytes exceeds the limit of 100`);
  });

  it('ignores commands to gateways; reads statuses; an empty retained status is no error', () => {
    expect(decodeMessage(contract, 'carbonedge/s/gw/cmd/rules', Buffer.from('{}'))).toEqual({ kind: 'ignore', rejected: [] });
    expect(decodeMessage(contract, 'carbonedge/s/gw/status', Buffer.alloc(0))).toEqual({ kind: 'status', rejected: [] });
    const st = decodeMessage(contract, 'carbonedge/s/gw/status', Buffer.from(JSON.stringify({ schemaVersion: 1, site: 's', gateway: 'gw', state: 'online', ts: 1, storeEpoch: '5f3a00000007' })));
    expect(st).toEqual({ kind: 'status', status: { gateway: 'gw', site: 's', state: 'online', ts: 1, storeEpoch: '5f3a00000007' }, rejected: [] });
  });

  it('reads retained metadata and availability; rejects a device or gateway not matching the topic; an empty retained message is no error', () => {
    const meta = fs.readFileSync(path.join(contractDir(), 'examples', 'metadata.json'));
    const av = JSON.parse(fs.readFileSync(path.join(contractDir(), 'examples', 'availability.json'), 'utf8')) as Record<string, unknown>;
    const prefix = 'carbonedge/demo-factory/demo-gateway';
    const m = decodeMessage(contract, `${prefix}/metadata`, meta);
    expect(m).toMatchObject({ kind: 'metadata', metadata: { gateway: 'demo-gateway', site: 'demo-factory', ts: 1781316900000 }, rejected: [] });
    const a = decodeMessage(contract, `${prefix}/device/pv/availability`, Buffer.from(JSON.stringify(av)));
    expect(a).toEqual({ kind: 'availability', availability: { gateway: 'demo-gateway', device: 'pv', state: 'offline', reason: 'Timed out after 1000 ms', ts: 1781316902000 }, rejected: [] });
    expect(decodeMessage(contract, `${prefix}/device/grid/availability`, Buffer.from(JSON.stringify(av))).rejected[0]!.reason).toBe("availability device 'pv' does not match the topic's 'grid'");
    expect(decodeMessage(contract, 'carbonedge/demo-factory/other/metadata', meta).rejected[0]!.reason).toMatch(/^metadata gateway 'demo-gateway' is not in the topic/);
    expect(decodeMessage(contract, `${prefix}/device/pv/availability`, Buffer.from(JSON.stringify({ ...av, state: 'sleepy' }))).rejected[0]!.reason).toMatch(/^availability: .*state/);
    expect(decodeMessage(contract, `${prefix}/metadata`, Buffer.alloc(0))).toEqual({ kind: 'metadata', rejected: [] });
    expect(decodeMessage(contract, `${prefix}/device/pv/state`, Buffer.from('{}'))).toEqual({ kind: 'ignore', rejected: [] });
  });
});
