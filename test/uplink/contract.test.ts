import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadContract } from '../../runtime/uplink/contract.js';
import { Receiver } from '../../tools/receiver/receiver.js';
import zlib from 'node:zlib';
import { accountingConfigSchema } from '../../runtime/accounting/config-schema.js';
import { COMMAND_ERROR_CODES } from '../../runtime/feature-api.js';

const contract = loadContract();

describe('MQTT contract', () => {
  it('has the envelope, status and the store streams, each versioned', () => {
    for (const s of ['readings-1m', 'readings-15m', 'store-stats']) expect(contract.streams.get(s)).toContain(1);
    const files = fs.readdirSync(contract.dir).filter((f) => f.endsWith('.json'));
    for (const f of files) expect(f).toMatch(/^[a-z0-9-]+\.v\d+\.schema\.json$/);
  });

  it('every example validates (envelope examples: envelope + each record; record examples: the record)', () => {
    const dir = path.join(contract.dir, 'examples');
    const examples = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const f of examples) {
      const name = f.replace(/\.json$/, '');
      const ex = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown>;
      if (name === 'status' || name === 'metadata' || name === 'availability') {
        const validate = contract[name];
        expect(validate(ex), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
        continue;
      }
      if (name.startsWith('command-')) {
        // Command examples: a list of payloads.
        const cmd = name.slice('command-'.length);
        const validate = cmd === 'response' ? contract.commandResponse : contract.command(cmd);
        expect(validate, `schema for example ${f}`).toBeDefined();
        expect(Array.isArray(ex), `${f} is a list of payloads`).toBe(true);
        for (const c of ex as unknown as unknown[]) expect(validate!(c), `${f}: ${JSON.stringify(validate!.errors)}`).toBe(true);
        continue;
      }
      const validate = contract.record(name, 1);
      expect(validate, `schema for example ${f}`).toBeDefined();
      const records = Array.isArray(ex.records) ? (ex.records as unknown[]) : [ex];
      if (Array.isArray(ex.records)) expect(contract.envelope(ex), `${f}: ${JSON.stringify(contract.envelope.errors)}`).toBe(true);
      for (const r of records) expect(validate!(r), `${f}: ${JSON.stringify(validate!.errors)}`).toBe(true);
    }
  });

  it('every stream schema has an example', () => {
    const dir = path.join(contract.dir, 'examples');
    for (const s of contract.streams.keys()) expect(fs.existsSync(path.join(dir, `${s}.json`)), `examples/${s}.json`).toBe(true);
  });

  it('commands: rules and instruments have schemas and examples, apart from the record streams', () => {
    expect(contract.commands).toEqual(['config', 'instruments', 'rules']);
    for (const s of contract.streams.keys()) expect(s.startsWith('command-'), s).toBe(false);
    const dir = path.join(contract.dir, 'examples');
    for (const c of [...contract.commands, 'response']) expect(fs.existsSync(path.join(dir, `command-${c}.json`)), `examples/command-${c}.json`).toBe(true);
    // The instrument in the command is exactly an entry of accounting.instruments (no drift between the two schemas);
    // v1 and v2 are frozen (v3 added foreignMarketReason, which they lack).
    for (const v of [3]) {
      const schema = JSON.parse(fs.readFileSync(path.join(contract.dir, `command-instruments.v${v}.schema.json`), 'utf8')) as { properties: { instrument: unknown } };
      expect(schema.properties.instrument, `v${v}`).toEqual((accountingConfigSchema.properties as { instruments: { items: unknown } }).instruments.items);
    }
    // What the schemas refuse.
    const rules = contract.command('rules')!;
    const at = '2026-01-05T10:00:00Z';
    expect(rules({ type: 'override', output: 'load.relay', value: true, issuedAt: at })).toBe(false); // no forS
    expect(rules({ type: 'carbon-intensity', value: 6000, issuedAt: at })).toBe(false);
    expect(rules({ type: 'clear-override', output: 'x', value: 1, issuedAt: at })).toBe(false);
    expect(rules({ type: 'price', value: 0.2, transaction: { a: 1 }, issuedAt: at })).toBe(false);
    expect(contract.commandResponse({ schemaVersion: 1, status: 'error' })).toBe(false); // an error says why
    expect(contract.commandResponse({ schemaVersion: 1, status: 'ok', error: 'x' })).toBe(false);
  });

  it('command schemas v2: issuedAt required (RFC 3339 with zone, or epoch ms), price bounded; the gateway validates with the highest version', () => {
    const rules = contract.command('rules')!;
    const instruments = contract.command('instruments')!;
    const ins = { type: 'GEC', MWh: 1, serials: ['GEC2026000001'] };
    expect(rules({ type: 'price', value: 0.2 })).toBe(false); // a v1 command
    expect(instruments({ type: 'add', instrument: ins })).toBe(false);
    for (const issuedAt of ['2026-01-05T10:00:00Z', '2026-01-05T18:00:00.5+08:00', 1767607200000]) {
      expect(rules({ type: 'price', value: 0.2, issuedAt }), String(issuedAt)).toBe(true);
      expect(instruments({ type: 'add', instrument: ins, issuedAt }), String(issuedAt)).toBe(true);
    }
    for (const issuedAt of ['2026-01-05T10:00:00', '2026-01-05', 'yesterday', 1767607200, 1767607200000.5, null]) {
      expect(rules({ type: 'price', value: 0.2, issuedAt }), String(issuedAt)).toBe(false);
    }
    for (const value of [1e308, -1e308, 10_001, -10_001]) expect(rules({ type: 'price', value, issuedAt: 1767607200000 }), String(value)).toBe(false);
    for (const value of [10_000, -10_000, 0]) expect(rules({ type: 'price', value, issuedAt: 1767607200000 }), String(value)).toBe(true);
    // v1 stays in the directory (what older senders sent); v2 is what is enforced.
    expect(fs.existsSync(path.join(contract.dir, 'command-rules.v1.schema.json'))).toBe(true);
  });

  it('answers: an optional stable code (CE_CMD_...) beside the error, never on an ok answer', () => {
    const r = contract.commandResponse;
    expect(r({ schemaVersion: 1, status: 'error', error: 'stale command', code: 'CE_CMD_STALE' })).toBe(true);
    expect(r({ schemaVersion: 1, status: 'error', error: 'from a gateway before codes' })).toBe(true);
    expect(r({ schemaVersion: 1, status: 'error', error: 'x', code: 'E42' })).toBe(false);
    expect(r({ schemaVersion: 1, status: 'error', error: 'x', code: 'ce_cmd_stale' })).toBe(false);
    expect(r({ schemaVersion: 1, status: 'ok', code: 'CE_CMD_STALE' })).toBe(false);
  });

  it('the README section "Error codes" lists exactly the CE_CMD_ codes the gateway sends', () => {
    const readme = fs.readFileSync(path.join(contract.dir, '..', '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Error codes');
    expect(start, 'README section "## Error codes"').toBeGreaterThan(0);
    const end = readme.indexOf('\n## ', start + 1);
    const listed = [...readme.slice(start, end < 0 ? undefined : end).matchAll(/^\| `(CE_CMD_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...COMMAND_ERROR_CODES].sort());
  });

  it('the topic table in the contract README lists every stream and command topic', () => {
    const readme = fs.readFileSync(path.join(contract.dir, 'README.md'), 'utf8');
    for (const s of contract.streams.keys()) expect(readme).toContain(`\`${s}\``);
    for (const c of contract.commands) expect(readme).toContain(`\`<prefix>/cmd/${c}\``);
    expect(readme).toContain('`<prefix>/cmd/<name>/response`');
  });
});

describe('Receiver validation and deduplication (fed directly)', () => {
  const example = JSON.parse(fs.readFileSync(path.join(contract.dir, 'examples', 'readings-1m.json'), 'utf8')) as {
    records: Record<string, unknown>[];
  };
  const topic = 'carbonedge/demo/gw1/data/readings-1m';

  it('accepts a valid message, drops duplicates by id, reads gzip, reports gaps', () => {
    const rx = new Receiver({ url: 'mqtt://unused', contract });
    const ev = rx.handle(topic, Buffer.from(JSON.stringify(example)));
    expect(ev).toMatchObject({ kind: 'data', accepted: 2, duplicates: 0, invalid: 0 });
    const again = rx.handle(`${topic}/gzip`, zlib.gzipSync(JSON.stringify(example)));
    expect(again).toMatchObject({ accepted: 0, duplicates: 2 });
    const later = { ...example, records: [{ ...example.records[0], id: 'gw1/readings-1m/45', seq: 45 }] };
    rx.handle(topic, Buffer.from(JSON.stringify(later)));
    expect(rx.gaps()).toEqual([{ gateway: 'gw1', stream: 'readings-1m', firstSeq: 41, lastSeq: 45, records: 3, missing: [[43, 44]] }]);
    rx.close();
  });

  it('store epochs: a gateway whose database started over is announced, its new seqs are neither duplicates nor gaps', () => {
    const rx = new Receiver({ url: 'mqtt://unused', contract });
    const status = (storeEpoch: string) => rx.handle('carbonedge/demo/gw1/status', Buffer.from(JSON.stringify({ schemaVersion: 1, site: 'demo', gateway: 'gw1', state: 'online', ts: 1, storeEpoch })));
    const data = (epoch: string, seqs: number[]) =>
      rx.handle(topic, Buffer.from(JSON.stringify({ ...example, epoch, records: seqs.map((seq) => ({ ...example.records[0], id: `gw1/readings-1m/${epoch}-${seq}`, seq })) })));
    expect(status('aaaaaaaaaaaa')).toMatchObject({ kind: 'status', epoch: 'aaaaaaaaaaaa', newEpoch: false });
    expect(data('aaaaaaaaaaaa', [1, 2, 3])).toMatchObject({ accepted: 3, duplicates: 0, invalid: 0 });
    // The database was moved aside: seqs restart at 1 under a new epoch, announced in the retained status.
    expect(status('bbbbbbbbbbbb')).toMatchObject({ epoch: 'bbbbbbbbbbbb', newEpoch: true });
    expect(data('bbbbbbbbbbbb', [1, 2])).toMatchObject({ accepted: 2, duplicates: 0, invalid: 0, newEpoch: false });
    expect(rx.stats()).toMatchObject({ duplicates: 0, epochChanges: 1, records: 5 });
    expect(rx.gaps()).toEqual([
      { gateway: 'gw1', stream: 'readings-1m', epoch: 'aaaaaaaaaaaa', firstSeq: 1, lastSeq: 3, records: 3, missing: [] },
      { gateway: 'gw1', stream: 'readings-1m', epoch: 'bbbbbbbbbbbb', firstSeq: 1, lastSeq: 2, records: 2, missing: [] },
    ]);
    expect(rx.epochs('gw1')).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb']);
    // A gap inside an epoch is still a gap; an id without the envelope's epoch is refused.
    data('bbbbbbbbbbbb', [5]);
    expect(rx.gaps().find((g) => g.epoch === 'bbbbbbbbbbbb')!.missing).toEqual([[3, 4]]);
    const noEpochId = { ...example, epoch: 'bbbbbbbbbbbb', records: [{ ...example.records[0], id: 'gw1/readings-1m/6', seq: 6 }] };
    expect(rx.handle(topic, Buffer.from(JSON.stringify(noEpochId)))).toMatchObject({ invalid: 1, accepted: 0 });
    // The contract: envelope epoch and status storeEpoch are 12 hex digits; ids carry the same.
    expect(contract.envelope({ ...example, epoch: 'not-an-epoch' })).toBe(false);
    expect(contract.status({ schemaVersion: 1, site: 'demo', gateway: 'gw1', state: 'online', ts: 1, storeEpoch: 'x' })).toBe(false);
    rx.close();
  });

  it('a receiver database from before store epochs is upgraded in place (its records become the legacy epoch)', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ce-rx-')), 'rx.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE records (id TEXT PRIMARY KEY, site TEXT NOT NULL, gateway TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
      received_at INTEGER NOT NULL, backfill INTEGER NOT NULL, payload TEXT NOT NULL);
      CREATE TABLE status (site TEXT NOT NULL, gateway TEXT NOT NULL, state TEXT NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (site, gateway));`);
    old.prepare('INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?)').run('gw1/readings-1m/1', 'demo', 'gw1', 'readings-1m', 1, 0, 0, 0, '{}');
    old.close();
    const rx = new Receiver({ url: 'mqtt://unused', contract, db: file });
    expect(rx.gaps()).toEqual([{ gateway: 'gw1', stream: 'readings-1m', firstSeq: 1, lastSeq: 1, records: 1, missing: [] }]);
    rx.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('rejects a bad envelope, a record whose id does not match, and a record that breaks its schema', () => {
    const rx = new Receiver({ url: 'mqtt://unused', contract });
    expect(rx.handle(topic, Buffer.from('{not json')).error).toMatch(/not JSON/);
    expect(rx.handle(topic, Buffer.from(JSON.stringify({ ...example, schemaVersion: 99 }))).error).toMatch(/envelope/);
    const badId = { ...example, records: [{ ...example.records[0], id: 'gw9/readings-1m/41' }] };
    expect(rx.handle(topic, Buffer.from(JSON.stringify(badId)))).toMatchObject({ invalid: 1, accepted: 0 });
    const badRec = { ...example, records: [{ ...example.records[0], quality: 'excellent' }] };
    expect(rx.handle(topic, Buffer.from(JSON.stringify(badRec)))).toMatchObject({ invalid: 1, accepted: 0 });
    expect(rx.stats()).toMatchObject({ invalidMessages: 2, invalidRecords: 2, records: 0 });
    expect(rx.db.prepare('SELECT count(*) FROM invalid').pluck().get()).toBe(4);
    rx.close();
  });

  it('validates command answers, their code included, and counts error answers by code', () => {
    const rx = new Receiver({ url: 'mqtt://unused', contract });
    const topic = 'carbonedge/demo/gw1/cmd/rules/response';
    const answer = (body: Record<string, unknown>) => rx.handle(topic, Buffer.from(JSON.stringify({ schemaVersion: 1, ...body })));
    expect(answer({ status: 'error', error: 'stale', code: 'CE_CMD_STALE' }).error).toBeUndefined();
    expect(answer({ status: 'error', error: 'stale', code: 'CE_CMD_STALE' }).error).toBeUndefined();
    expect(answer({ status: 'error', error: 'old gateway' }).error).toBeUndefined();
    expect(answer({ status: 'ok' }).error).toBeUndefined();
    expect(answer({ status: 'error', error: 'x', code: 'STALE' }).error).toMatch(/command response: \/code must match pattern/);
    expect(answer({ status: 'ok', code: 'CE_CMD_STALE' }).error).toMatch(/command response/);
    expect(rx.stats()).toMatchObject({ commandResponses: 4, invalidMessages: 2, commandErrorCodes: { CE_CMD_STALE: 2, none: 1 } });
    rx.close();
  });
});
