import { definePermissions } from '@democrai/nest-auth';

/** Every permission of the sample, declared once: a misspelt one in a controller fails `tsc`. */
export const permissions = definePermissions(['articles:read', 'articles:write', 'articles:publish'] as const);
export const PermissionRequired = permissions.PermissionRequired;
