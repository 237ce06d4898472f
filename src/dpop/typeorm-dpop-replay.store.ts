import type { DataSource } from 'typeorm';
import { tablePath } from '../persistence/table-path.js';
import { DpopProofEntity } from './dpop.entity.js';
import type { DpopReplayStore } from './dpop-replay.store.js';
import { sqlDialectOf, type SqlDialect } from '../persistence/sql-dialect.js';

/** Expired rows are deleted at most this often, by the instance that claims next. */
const PURGE_EVERY_MS = 60_000;

/**
 * Used proofs in the app's database, shared by every instance on it. A claim
 * is one statement: an insert, or on a conflict an update that only takes a
 * row whose proof has expired, so of two instances claiming the same proof
 * exactly one sees its row written (MySQL: a delete of the expired row, then
 * INSERT IGNORE, whose primary key admits one).
 */
export class TypeOrmDpopReplayStore implements DpopReplayStore {
  private readonly dialect: SqlDialect;
  private readonly table: string;
  private purgedAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly now: () => number = Date.now,
  ) {
    this.dialect = sqlDialectOf(dataSource, 'the DPoP replay store');
    this.table = tablePath(dataSource, DpopProofEntity);
  }

  async claim(key: string, expiresAt: number): Promise<boolean> {
    const now = this.now();
    this.purge(now);
    const t = this.table;
    if (this.dialect === 'mysql') {
      // An expired row of the same proof gives way first; then of two instances inserting, the primary key lets one
      // in. INSERT IGNORE's affectedRows is 1 or 0 whatever the FOUND_ROWS flag (an upsert's is not).
      await this.dataSource.query(`DELETE FROM ${t} WHERE \`key\` = ? AND \`expires_at\` <= ?`, [key, now]);
      const result = (await this.dataSource.query(`INSERT IGNORE INTO ${t} (\`key\`, \`expires_at\`) VALUES (?, ?)`, [key, expiresAt])) as {
        affectedRows?: number;
      };
      return result.affectedRows === 1;
    }
    const p = this.dialect === 'postgres' ? ['$1', '$2', '$3'] : ['?', '?', '?'];
    const rows = (await this.dataSource.query(
      `INSERT INTO ${t} AS d ("key", "expires_at") VALUES (${p[0]}, ${p[1]}) ON CONFLICT ("key") DO UPDATE SET "expires_at" = excluded."expires_at" WHERE d."expires_at" <= ${p[2]} RETURNING "key"`,
      [key, expiresAt, now],
    )) as unknown[];
    return Array.isArray(rows) && rows.length > 0;
  }

  private purge(now: number): void {
    if (now - this.purgedAt < PURGE_EVERY_MS) return;
    this.purgedAt = now;
    // Housekeeping only: a failure here changes no answer, and the next purge tries again.
    this.dataSource
      .createQueryBuilder()
      .delete()
      .from(DpopProofEntity)
      .where('expires_at <= :now', { now })
      .execute()
      .catch(() => undefined);
  }
}
