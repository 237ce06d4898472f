import type { DataSource } from 'typeorm';
import { exclusive, inTransaction } from '../persistence/transactions.js';
import { tablePath } from '../persistence/table-path.js';
import { ThrottleCounterEntity } from './throttle.entity.js';
import type { ThrottleHit, ThrottleStore } from './throttle-store.js';
import { sqlDialectOf, type SqlDialect } from '../persistence/sql-dialect.js';

/**
 * Counters in the app's database: one row per counter, incremented by a single
 * upsert so that concurrent hits from any number of instances never lose a count.
 * The SQL is written out per dialect: the upsert-and-read is what makes it atomic.
 */
export class TypeOrmThrottleStore implements ThrottleStore {
  private readonly dialect: SqlDialect;
  private readonly table: string;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = sqlDialectOf(dataSource, 'TypeOrmThrottleStore');
    if (!dataSource.hasMetadata(ThrottleCounterEntity)) {
      throw new Error('TypeOrmThrottleStore: the DataSource does not know ThrottleCounterEntity: add ...authEntities to its `entities`');
    }
    // Where TypeORM put the table: the DataSource's `schema` and `entityPrefix` apply to hand-written SQL too.
    this.table = tablePath(dataSource, ThrottleCounterEntity);
  }

  async hit(key: string, windowMs: number): Promise<ThrottleHit> {
    const now = Date.now();
    const resetAt = now + windowMs;
    const t = this.table;
    if (this.dialect === 'mysql') {
      // MySQL evaluates the assignments left to right: `hits` is set first, while `reset_at` is still the old value.
      // The row lock taken by the upsert is held until commit, so the read sees this hit's own result.
      return inTransaction(this.dataSource, async (manager) => {
        await manager.query(
          `INSERT INTO ${t} (\`key\`, \`hits\`, \`reset_at\`) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE ` +
            '`hits` = IF(`reset_at` <= ?, 1, `hits` + 1), `reset_at` = IF(`reset_at` <= ?, ?, `reset_at`)',
          [key, resetAt, now, now, resetAt],
        );
        const rows: Array<{ hits: number | string; reset_at: number | string }> = await manager.query(
          `SELECT \`hits\`, \`reset_at\` FROM ${t} WHERE \`key\` = ?`,
          [key],
        );
        return { count: Number(rows[0].hits), resetAt: Number(rows[0].reset_at) };
      });
    }
    // PostgreSQL and SQLite (3.35+): every expression of DO UPDATE reads the row as it was before this statement.
    const p = this.dialect === 'postgres' ? ['$1', '$2', '$3'] : ['?', '?', '?'];
    const params = this.dialect === 'postgres' ? [key, resetAt, now] : [key, resetAt, now, now, resetAt];
    const nowRef = this.dialect === 'postgres' ? '$3' : '?';
    const resetRef = this.dialect === 'postgres' ? '$2' : '?';
    // The existing row is read through an alias, so the expressions do not depend on where the table is.
    const rows: Array<{ hits: number | string; reset_at: number | string }> = await this.write(
      `INSERT INTO ${t} AS "c" ("key", "hits", "reset_at") VALUES (${p[0]}, 1, ${p[1]}) ON CONFLICT ("key") DO UPDATE SET ` +
        `"hits" = CASE WHEN "c"."reset_at" <= ${nowRef} THEN 1 ELSE "c"."hits" + 1 END, ` +
        `"reset_at" = CASE WHEN "c"."reset_at" <= ${this.dialect === 'postgres' ? nowRef : '?'} THEN ${resetRef} ELSE "c"."reset_at" END ` +
        'RETURNING "hits", "reset_at"',
      params,
    );
    return { count: Number(rows[0].hits), resetAt: Number(rows[0].reset_at) };
  }

  async release(key: string): Promise<void> {
    const q = this.quote;
    await this.write(
      `UPDATE ${this.table} SET ${q('hits')} = ${q('hits')} - 1 WHERE ${q('key')} = ${this.param(1)} AND ${q('hits')} > 0 AND ${q('reset_at')} > ${this.param(2)}`,
      [key, Date.now()],
    );
  }

  async reset(key: string): Promise<void> {
    await this.write(`DELETE FROM ${this.table} WHERE ${this.quote('key')} = ${this.param(1)}`, [key]);
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    const result = await exclusive(this.dataSource, () =>
      this.dataSource.createQueryBuilder().delete().from(ThrottleCounterEntity).where('reset_at <= :now', { now: now.getTime() }).execute(),
    );
    return result.affected ?? 0;
  }

  /** One statement, alone on SQLite's one connection (see exclusive). */
  private write<T = unknown>(sql: string, params: unknown[]): Promise<T> {
    return exclusive(this.dataSource, () => this.dataSource.query(sql, params));
  }

  private quote = (name: string): string => (this.dialect === 'mysql' ? `\`${name}\`` : `"${name}"`);

  private param(n: number): string {
    return this.dialect === 'postgres' ? `$${n}` : '?';
  }
}
