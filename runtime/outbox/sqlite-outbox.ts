import type { Logger } from '../logger.js';
import type { Persistence } from '../persistence/database.js';
import type { Clock } from '../types.js';
import type { BatchOutboxWriter, OutboxAck, OutboxBatch, OutboxBatchRequest, OutboxReader, OutboxRow, OutboxStats } from './outbox.js';
import { OutboxRepository } from './repository.js';

/**
 * The outbox in SQLite tables `outbox` and `outbox_seq`. Sequence numbers and backlog counts are
 * kept in memory and persisted in the transaction that enqueues. Sequence numbers are per store
 * epoch (runtime/persistence/epoch.ts): record ids `<gateway>/<stream>/<epoch>-<seq>`, so a new
 * database (after a corrupt one was moved aside) never reuses an id.
 *
 * Durability: enqueue commits at `synchronous=FULL` (fsync of the WAL before returning); deletes
 * of acknowledged records run at NORMAL (a lost delete only re-sends a duplicate).
 */
export class SqliteOutbox implements BatchOutboxWriter, OutboxReader {
  private readonly repo: OutboxRepository;
  private readonly seqs = new Map<string, number>();
  private readonly dirtySeqs = new Set<string>();
  private readonly counts = new Map<string, { records: number; bytes: number }>();
  /** `"<gateway>/<stream>/[<epoch>-]` as a JSON string start, per stream (names checked once). */
  private readonly idHeads = new Map<string, string>();
  /** Rows staged by stage() for writeStaged(), 6 params each. */
  private readonly staged: unknown[] = [];
  private readonly shrinkListeners = new Set<() => void>();
  private readonly enqueueListeners = new Set<(stream: string) => void>();
  /**
   * Streams enqueued inside a unit of work the outbox does not own: whether it committed is known
   * only once it has ended. Until then their in-memory sequence numbers and backlog counts are
   * provisional; settle() re-reads them from the database.
   */
  private readonly pendingForeign = new Set<string>();
  private settleScheduled = false;

  constructor(
    private readonly persistence: Persistence,
    private readonly opts: { gatewayId: string; clock: Clock; logger: Logger },
  ) {
    this.repo = new OutboxRepository(persistence);
    this.load();
  }

  get epoch(): string | undefined {
    return this.persistence.epoch;
  }

  private get closed(): boolean {
    return !this.persistence.isOpen;
  }

  // ------------------------------------------------------------------ writer

  enqueue(stream: string, record: Record<string, unknown>): { seq: number } {
    return { seq: this.enqueueRecords(stream, [record]) };
  }

  enqueueMany(stream: string, records: Iterable<Record<string, unknown>>): { lastSeq: number } {
    return { lastSeq: this.enqueueRecords(stream, records) };
  }

  private enqueueRecords(stream: string, records: Iterable<Record<string, unknown>>): number {
    if (this.closed) throw new Error('store is closed');
    this.settle();
    const foreign = this.persistence.inUnitOfWork;
    let seq: number;
    try {
      seq = this.persistence.withSynchronous('FULL', () =>
        this.persistence.unitOfWork(() => {
          let last = this.seqFromDb(stream);
          for (const r of records) last = this.stage(stream, bodyOf(r), recordTs(r, this.opts.clock));
          this.writeStaged();
          return last;
        }),
      );
    } catch (err) {
      this.staged.length = 0;
      if (foreign) this.markForeign(stream);
      else this.resync(stream);
      throw err;
    }
    if (foreign) this.markForeign(stream);
    else this.notifyEnqueued(stream);
    return seq;
  }

  /**
   * Inside a unit of work the caller owns: assign the next sequence number to the record
   * `{"id","seq","ts"` + `body` + `}` (`body`: the other fields as JSON text, starting with a
   * comma, or empty) and stage it. writeStaged() inserts what was staged, in the same unit of work.
   */
  stage(stream: string, body: string, ts: number): number {
    const head = this.idHead(stream);
    const seq = (this.seqs.get(stream) ?? 0) + 1;
    const payload = `{"id":${head}${seq}","seq":${seq},"ts":${ts}${body}}`;
    const bytes = Buffer.byteLength(payload);
    this.staged.push(stream, seq, ts, this.opts.clock.now(), bytes, payload);
    this.seqs.set(stream, seq);
    this.dirtySeqs.add(stream);
    const c = this.counts.get(stream) ?? { records: 0, bytes: 0 };
    c.records++;
    c.bytes += bytes;
    this.counts.set(stream, c);
    return seq;
  }

  /** Inside the unit of work that staged: insert the staged records and persist the streams' last seqs. */
  writeStaged(): void {
    this.repo.insertRows(this.staged);
    this.staged.length = 0;
    for (const stream of this.dirtySeqs) this.repo.setSeq(stream, this.seqs.get(stream)!);
    this.dirtySeqs.clear();
  }

  private idHead(stream: string): string {
    let h = this.idHeads.get(stream);
    if (h === undefined) {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(stream)) throw new Error(`invalid stream name '${stream}' (lower-case letters, digits, '-')`);
      // The epoch makes ids unique across databases: seqs restart at 1 in a new one.
      const epoch = this.persistence.epoch;
      h = JSON.stringify(`${this.opts.gatewayId}/${stream}/${epoch === undefined ? '' : `${epoch}-`}`).slice(0, -1);
      this.idHeads.set(stream, h);
    }
    return h;
  }

  // ------------------------------------------------------------------ reader

  streams(): string[] {
    this.settle();
    return [...this.seqs.keys()].sort();
  }

  lastSeq(stream: string): number {
    this.settle();
    return this.seqs.get(stream) ?? 0;
  }

  readOutbox(stream: string, afterSeq: number, limit: number, upToSeq?: number): OutboxRow[] {
    if (this.closed) return [];
    this.settle();
    return this.repo.read(stream, afterSeq, limit, upToSeq);
  }

  readBatch(stream: string, afterSeq: number, req: OutboxBatchRequest): OutboxBatch | undefined {
    if (this.closed) return undefined;
    this.settle();
    return this.repo.readBatch(stream, afterSeq, req);
  }

  ack(items: OutboxAck[]): void {
    if (this.closed || items.length === 0) return;
    this.persistence.withSynchronous('NORMAL', () =>
      this.persistence.unitOfWork(() => {
        for (const item of items) {
          const { stream, bytes } = item;
          const c = this.counts.get(stream);
          let deleted = 0;
          let deletedBytes = 0;
          let expected: number;
          if ('seqs' in item) {
            const seqs = item.seqs;
            expected = seqs.length;
            // Contiguous runs of seqs are deleted with one range statement each.
            let i = 0;
            while (i < seqs.length) {
              let j = i;
              while (j + 1 < seqs.length && seqs[j + 1] === seqs[j]! + 1) j++;
              if (bytes === undefined) deletedBytes += this.repo.sumRange(stream, seqs[i]!, seqs[j]!).bytes;
              deleted += this.repo.deleteRange(stream, seqs[i]!, seqs[j]!);
              i = j + 1;
            }
          } else {
            expected = item.records;
            deleted = this.repo.deleteRange(stream, item.from, item.to);
          }
          if (!c) continue;
          if (bytes !== undefined && deleted !== expected) {
            // Some were gone already (dropped by the byte cap): count again.
            const now = this.repo.count(stream);
            c.records = now.records;
            c.bytes = now.bytes;
            continue;
          }
          c.records -= deleted;
          c.bytes -= bytes ?? deletedBytes;
        }
      }),
    );
    this.notifyShrink();
  }

  onEnqueue(fn: (stream: string) => void): () => void {
    this.enqueueListeners.add(fn);
    return () => this.enqueueListeners.delete(fn);
  }

  onOutboxShrink(fn: () => void): () => void {
    this.shrinkListeners.add(fn);
    return () => this.shrinkListeners.delete(fn);
  }

  outboxStats(): OutboxStats {
    this.settle();
    let records = 0;
    let bytes = 0;
    let oldest: number | undefined;
    const byStream: OutboxStats['byStream'] = {};
    for (const [stream, c] of this.counts) {
      records += c.records;
      bytes += c.bytes;
      byStream[stream] = { records: c.records, bytes: c.bytes, lastSeq: this.seqs.get(stream) ?? 0 };
      if (c.records > 0 && !this.closed) {
        const created = this.repo.oldestCreated(stream);
        if (created !== undefined && (oldest === undefined || created < oldest)) oldest = created;
      }
    }
    return { records, bytes, oldestCreated: oldest, byStream };
  }

  // ------------------------------------------------------------------ byte cap

  /** Delete the oldest `limit` unsent records of `stream` (byte cap); returns how many. */
  dropOldest(stream: string, limit: number): number {
    const bytes = this.persistence.withSynchronous('NORMAL', () => this.repo.deleteOldest(stream, limit));
    if (bytes.length) {
      const c = this.counts.get(stream);
      if (c) {
        c.records -= bytes.length;
        for (const b of bytes) c.bytes -= b;
      }
      this.notifyShrink();
    }
    return bytes.length;
  }

  /** The stream of the oldest unsent record outside `except`. */
  oldestStreamExcept(except: string[]): string | undefined {
    return this.repo.oldestStreamExcept(except);
  }

  // ------------------------------------------------------------------ state

  /** Wake the uplink: records were committed on `stream`. */
  notifyEnqueued(stream: string): void {
    for (const fn of this.enqueueListeners) {
      try {
        fn(stream);
      } catch (err) {
        this.opts.logger.error({ err }, 'enqueue listener failed');
      }
    }
  }

  private notifyShrink(): void {
    for (const fn of this.shrinkListeners) fn();
  }

  /** Forget the in-memory state and re-read it (after a unit of work that staged records rolled back). */
  reload(): void {
    this.seqs.clear();
    this.dirtySeqs.clear();
    this.counts.clear();
    this.pendingForeign.clear();
    this.staged.length = 0;
    this.load();
  }

  private load(): void {
    for (const [stream, last] of this.repo.allSeqs()) this.seqs.set(stream, last);
    for (const [stream, c] of this.repo.countsByStream()) this.counts.set(stream, c);
  }

  /** The stream's last committed (or, inside a unit of work, visible) seq, into memory. */
  private seqFromDb(stream: string): number {
    const last = this.repo.getSeq(stream);
    if (last > 0) this.seqs.set(stream, last);
    else this.seqs.delete(stream);
    return last;
  }

  /** In-memory last seq and backlog counts of `stream` from the database. */
  private resync(stream: string): void {
    this.seqFromDb(stream);
    this.dirtySeqs.delete(stream);
    const c = this.repo.count(stream);
    if (c.records > 0 || this.counts.has(stream)) this.counts.set(stream, c);
  }

  private markForeign(stream: string): void {
    this.pendingForeign.add(stream);
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    setImmediate(() => this.settleLater());
  }

  private settleLater(): void {
    this.settleScheduled = false;
    if (this.closed) return;
    if (this.persistence.inUnitOfWork) {
      this.settleScheduled = true;
      setImmediate(() => this.settleLater());
    } else this.settle();
  }

  /** After foreign units of work ended: sequence numbers and counts from what actually committed; wake the uplink. */
  settle(): void {
    if (this.pendingForeign.size === 0 || this.closed || this.persistence.inUnitOfWork) return;
    const streams = [...this.pendingForeign];
    this.pendingForeign.clear();
    for (const s of streams) {
      try {
        this.resync(s);
      } catch (err) {
        this.opts.logger.error({ err, stream: s }, 'could not re-read outbox state');
        this.pendingForeign.add(s);
      }
    }
    for (const s of streams) this.notifyEnqueued(s);
  }
}

/** The record's fields other than id/seq/ts as JSON text starting with a comma (or empty). */
function bodyOf(record: Record<string, unknown>): string {
  let body: string;
  if ('id' in record || 'seq' in record || 'ts' in record) {
    const { id: _i, seq: _s, ts: _t, ...rest } = record;
    body = JSON.stringify(rest);
  } else body = JSON.stringify(record);
  return body.length > 2 ? `,${body.slice(1, -1)}` : '';
}

function recordTs(record: Record<string, unknown>, clock: Clock): number {
  return typeof record.ts === 'number' && Number.isFinite(record.ts) ? record.ts : clock.now();
}
