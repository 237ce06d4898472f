import type { DataSource, EntitySchema } from 'typeorm';

/**
 * The quoted path of one of the module's tables as the DataSource places it: with its `entityPrefix`, its
 * PostgreSQL `schema`, and a MySQL database when the entity names one. Hand-written SQL must use this and never
 * a literal table name: TypeORM created the table where this path says.
 *
 * `table` is the name the module gives the table (`auth_sessions`, ...). When the DataSource knows the entity,
 * its metadata decides; a DataSource that only runs migrations may not list the entities, and then the path is
 * built the same way TypeORM builds it from the DataSource's options.
 */
export function tablePath(dataSource: DataSource, table: string | EntitySchema<unknown>): string {
  const path = rawTablePath(dataSource, table);
  return path
    .split('.')
    .map((part) => dataSource.driver.escape(part))
    .join('.');
}

/** The unquoted path (`schema.prefix_table`), as TypeORM's query runners take it. */
export function rawTablePath(dataSource: DataSource, table: string | EntitySchema<unknown>): string {
  if (typeof table !== 'string') return dataSource.getMetadata(table).tablePath;
  const known = dataSource.entityMetadatas.find((m) => m.givenTableName === table);
  if (known) return known.tablePath;
  const { entityPrefix, schema } = dataSource.options as { entityPrefix?: string; schema?: string };
  const name = entityPrefix ? dataSource.namingStrategy.prefixTableName(entityPrefix, table) : table;
  return dataSource.driver.buildTableName(name, schema);
}
