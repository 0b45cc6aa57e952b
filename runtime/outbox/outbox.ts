/**
 * The outbox: everything bound for the cloud, committed before it is published and deleted only
 * after the broker's PUBACK. Parts that produce records get an OutboxWriter; the uplink gets an
 * OutboxReader. The SQLite implementation is SqliteOutbox (sqlite-outbox.ts).
 */

export interface OutboxWriter {
  /**
   * Commit one record on `stream` (e.g. `readings-1m`, `carbon-15m`, `carbon-day`, `decision`).
   * Returns the record's stable per-stream sequence number (per store epoch: the record id is
   * `<gateway>/<stream>/<epoch>-<seq>`, or `<gateway>/<stream>/<seq>` in a legacy database).
   * Durable when it returns.
   * May be called inside another part's unit of work on the same database
   * (`persistence.unitOfWork(() => { outbox.enqueue(...); markSent(); })`): the record then
   * commits or rolls back with it, which makes "enqueued" and the caller's own bookkeeping one
   * atomic step (a rolled-back enqueue consumes no sequence number).
   */
  enqueue(stream: string, record: Record<string, unknown>): { seq: number };
}

/** A writer that can also commit many records in one transaction. */
export interface BatchOutboxWriter extends OutboxWriter {
  /** Commit many records on `stream` in one transaction; returns the last seq. Same unit-of-work rules as enqueue(). */
  enqueueMany(stream: string, records: Iterable<Record<string, unknown>>): { lastSeq: number };
}

/** One row of the outbox as the uplink reads it. */
export interface OutboxRow {
  seq: number;
  bytes: number;
  payload: string;
}

/**
 * Consecutive unsent records of one stream read as one piece of text, ready for an envelope: no
 * per-record strings or objects on the JavaScript heap (a backlog drain reads millions).
 */
export interface OutboxBatch {
  firstSeq: number;
  lastSeq: number;
  /** Records in the batch: every record of the stream with firstSeq <= seq <= lastSeq. */
  records: number;
  /** Sum of the records' `bytes` (the separators not counted). */
  bytes: number;
  /**
   * UTF-8, outside the JavaScript heap: `head`, the records' JSON payloads in sequence order
   * separated by commas, `tail` (e.g. a whole MQTT envelope).
   */
  text: Buffer;
}

export interface OutboxBatchRequest {
  maxRecords: number;
  /** Largest length of the payloads joined by commas (the first record always goes). */
  maxBytes: number;
  /** Only records up to this seq. */
  upToSeq?: number;
  /** Text before and after the records in `text` (default none). */
  head?: string;
  tail?: string;
}

/**
 * Acknowledged records to delete: listed seqs, or (what the uplink sends) the whole range of a
 * batch it read, with its record count and bytes (a count that does not match what was deleted
 * makes the outbox count the stream again).
 */
export type OutboxAck = { stream: string; seqs: number[]; bytes?: number } | { stream: string; from: number; to: number; records: number; bytes: number };

export interface OutboxStats {
  records: number;
  bytes: number;
  /** created-time of the oldest unsent record, ms since epoch; undefined when empty. */
  oldestCreated?: number;
  byStream: Record<string, { records: number; bytes: number; lastSeq: number }>;
}

/** What the uplink needs of the outbox. */
export interface OutboxReader {
  /**
   * The store epoch of the database the records come from (announced in the envelope and the
   * retained status; part of every record id): undefined for a legacy database (ids `<gateway>/<stream>/<seq>`).
   */
  readonly epoch: string | undefined;
  /** Streams that have ever had a record. */
  streams(): string[];
  lastSeq(stream: string): number;
  /** Unsent records of `stream` after `afterSeq` (and up to `upToSeq`), in sequence order. */
  readOutbox(stream: string, afterSeq: number, limit: number, upToSeq?: number): OutboxRow[];
  /**
   * The next batch of `stream` after `afterSeq` (and up to `upToSeq`): at most `maxRecords`
   * records, and no more whose payloads joined by commas exceed `maxBytes` (the first record is
   * always included); undefined when there is none.
   */
  readBatch(stream: string, afterSeq: number, req: OutboxBatchRequest): OutboxBatch | undefined;
  /**
   * Delete acknowledged records (after PUBACK). `bytes`: the total bytes of `seqs` as read, when
   * the caller knows it (saves reading the rows again; checked against what was deleted).
   */
  ack(items: OutboxAck[]): void;
  /** Called after records are enqueued (the uplink wakes up); returns an unsubscribe function. */
  onEnqueue(fn: (stream: string) => void): () => void;
  /** Called when records leave the outbox (ack or drop): the uplink re-reads its cursors. */
  onOutboxShrink(fn: () => void): () => void;
  outboxStats(): OutboxStats;
}
