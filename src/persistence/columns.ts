import type { EntitySchemaColumnOptions, ValueTransformer } from 'typeorm';

/**
 * Times are stored as integer epoch milliseconds. SQLite, PostgreSQL and
 * MariaDB then agree to the millisecond with no time-zone or precision
 * surprises (MariaDB's DATETIME drops milliseconds unless declared with a
 * precision, SQLite has no date type), and "newer than" polls compare integers.
 * PostgreSQL and mysql2 return BIGINT as a string: the transformer reads both.
 */
const epochMs: ValueTransformer = {
  to: (value: Date | null | undefined) => (value == null ? value : value.getTime()),
  from: (value: string | number | null) => (value == null ? null : new Date(Number(value))),
};

export function timeColumn(name: string, nullable = false): EntitySchemaColumnOptions {
  // `default: null` on nullable columns: without it TypeORM sees a schema diff on MariaDB.
  return { name, type: 'bigint', nullable, ...(nullable ? { default: null } : {}), transformer: epochMs };
}

/** 191 characters: the longest indexable utf8mb4 VARCHAR on older MySQL row formats. */
export function idColumn(name: string, options: Partial<EntitySchemaColumnOptions> = {}): EntitySchemaColumnOptions {
  return { name, type: 'varchar', length: 191, ...options };
}
