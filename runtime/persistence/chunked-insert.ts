import type Database from 'better-sqlite3';

/**
 * `INSERT [OR REPLACE] INTO table (cols) VALUES ...` for many rows: `chunk` rows per statement
 * (fewer native calls per row), the rest one row per statement.
 */
export class ChunkedInsert {
  private readonly one: Database.Statement;
  private readonly many: Database.Statement;
  readonly width: number;

  constructor(
    db: Database.Database,
    head: string,
    columns: readonly string[],
    readonly chunk: number,
  ) {
    this.width = columns.length;
    const row = `(${columns.map(() => '?').join(', ')})`;
    const sql = `${head} (${columns.join(', ')}) VALUES `;
    this.one = db.prepare(sql + row);
    this.many = db.prepare(sql + Array.from({ length: chunk }, () => row).join(', '));
  }

  /** Insert rows given as consecutive params, `width` per row. */
  run(params: readonly unknown[]): void {
    const per = this.width * this.chunk;
    let i = 0;
    if (params.length === per) {
      this.many.run(params);
      return;
    }
    for (; i + per <= params.length; i += per) this.many.run(params.slice(i, i + per));
    for (; i < params.length; i += this.width) this.one.run(params.slice(i, i + this.width));
  }
}
