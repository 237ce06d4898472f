// Compiled by `npm run typecheck` (tsconfig.json includes test/): every @ts-expect-error must be an error,
// so a misspelt permission that compiled would fail the type-check. Never run by jest.
import { Controller, Get } from '@nestjs/common';
import { definePermissions, PermissionRequired, type AuthPrincipal } from '../../src/index.js';

const perms = definePermissions(['articles:read', 'articles:write', 'articles:publish'] as const);
const Requires = perms.PermissionRequired;

@Controller('typed')
@Requires('articles:read')
export class TypedController {
  @Requires('articles:read', 'articles:write')
  @Get('a')
  a() {}

  @Requires(['articles:write', 'articles:publish'], { mode: 'any' })
  @Get('b')
  b() {}

  // @ts-expect-error a misspelt permission is a compile error
  @Requires('articles:raed')
  @Get('c')
  c() {}

  // @ts-expect-error one wrong entry in a list is enough
  @Requires(['articles:write', 'article:publish'], { mode: 'any' })
  @Get('d')
  d() {}

  // @ts-expect-error an empty requirement is refused by the type too
  @Requires()
  @Get('e')
  e() {}

  /** The untyped decorator keeps working for anything. */
  @PermissionRequired('legacy:anything')
  @Get('f')
  f() {}
}

declare const user: AuthPrincipal;
perms.can(user, 'articles:write');
perms.canAny(user, ['articles:write', 'articles:publish']);
// @ts-expect-error can() takes only catalog permissions
perms.can(user, 'articles:delete');
// @ts-expect-error canAll() too
perms.canAll(user, ['articles:read', 'nope']);

declare const fromBody: string;
if (perms.includes(fromBody)) {
  const p: 'articles:read' | 'articles:write' | 'articles:publish' = fromBody;
  void p;
}
// @ts-expect-error a plain string is not a catalog permission
const q: (typeof perms.permissions)[number] = fromBody;
void q;
