import { AuthConfigError } from '../errors/auth-error.js';

type TypeOrm = typeof import('typeorm');
let loading: Promise<TypeOrm> | undefined;

/**
 * TypeORM's runtime (its find operators), loaded on the first store call: the
 * TypeORM stores are exported from the package root, and importing the root
 * must not need typeorm (an app on the memory store runs without it).
 */
export function typeorm(): Promise<TypeOrm> {
  loading ??= import('typeorm').catch(() => {
    loading = undefined;
    throw new AuthConfigError('store', "'typeorm' needs the typeorm package installed (npm install typeorm @nestjs/typeorm)");
  });
  return loading;
}
