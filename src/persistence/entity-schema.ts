import type { EntitySchema, EntitySchemaOptions } from 'typeorm';

/**
 * An entity schema built without loading TypeORM: `authEntities` is exported
 * from the package root, and an app on the memory store must run without
 * typeorm installed. TypeORM's `EntitySchema` is only its options plus the
 * `@instanceof` marker its InstanceChecker reads (typeorm/entity-schema/EntitySchema.js);
 * this is the same object, typed as the real one.
 */
export function entitySchema<T>(options: EntitySchemaOptions<T>): EntitySchema<T> {
  return { options, '@instanceof': Symbol.for('EntitySchema') } as unknown as EntitySchema<T>;
}
