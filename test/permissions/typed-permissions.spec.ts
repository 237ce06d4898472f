import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Get } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { assertPermissionsInCatalog, AuthConfigError, definePermissions, PermissionRequired } from '../../src/index.js';
import { createTestApp, type TestAuthApp } from '../../src/testing/index.js';

const perms = definePermissions(['articles:read', 'articles:write'] as const);

@Controller('typed')
class Typed {
  @perms.PermissionRequired('articles:read')
  @Get('read')
  read() {
    return { ok: true };
  }

  @perms.PermissionRequired(['articles:read', 'articles:write'], { mode: 'any' })
  @Get('either')
  either() {
    return { ok: true };
  }
}

@Controller('legacy')
class Legacy {
  @PermissionRequired('reports:export')
  @Get()
  export() {
    return { ok: true };
  }
}

describe('definePermissions', () => {
  let t: TestAuthApp;
  beforeAll(async () => {
    t = await createTestApp({ controllers: [Typed, Legacy] });
  });
  afterAll(() => t.close());

  test('the typed decorator is the module decorator: the guard enforces it', async () => {
    await t
      .as({ permissions: ['articles:read'] })
      .get('/typed/read')
      .expect(200);
    await t
      .as({ permissions: ['articles:write'] })
      .get('/typed/read')
      .expect(403);
    await t
      .as({ permissions: ['articles:write'] })
      .get('/typed/either')
      .expect(200);
  });

  test('can / canAll / canAny: a superuser holds everything, a guest nothing', () => {
    const reader = { permissions: ['articles:read'], isSuperuser: false };
    expect(perms.can(reader, 'articles:read')).toBe(true);
    expect(perms.can(reader, 'articles:write')).toBe(false);
    expect(perms.canAll(reader, ['articles:read', 'articles:write'])).toBe(false);
    expect(perms.canAny(reader, ['articles:read', 'articles:write'])).toBe(true);
    expect(perms.can({ permissions: [], isSuperuser: true }, 'articles:write')).toBe(true);
    expect(perms.can(undefined, 'articles:read')).toBe(false);
    expect(perms.includes('articles:write')).toBe(true);
    expect(perms.includes('articles:delete')).toBe(false);
  });

  test('a permission outside the catalog smuggled past the types throws when the decorator is applied', () => {
    const untyped = perms.PermissionRequired as unknown as (p: string) => unknown;
    expect(() => untyped('articles:delete')).toThrow(/not in the permission catalog/);
  });

  test('a bad catalog throws', () => {
    expect(() => definePermissions([] as unknown as ['x'])).toThrow(TypeError);
    expect(() => definePermissions(['a', 'a'])).toThrow(/twice/);
    expect(() => definePermissions(['a', ' '])).toThrow(TypeError);
  });

  test('the boot check names every route whose permission is not in the catalog', () => {
    expect(() => assertPermissionsInCatalog(t.app, perms.permissions)).toThrow(AuthConfigError);
    expect(() => assertPermissionsInCatalog(t.app, perms.permissions)).toThrow(/Legacy\.export requires "reports:export"/);
    expect(() => assertPermissionsInCatalog(t.app, [...perms.permissions, 'reports:export'])).not.toThrow();
  });
});

describe('the typecheck cases', () => {
  test('every @ts-expect-error line is an error once the directive is removed (the compiler refuses misspellings)', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const file = join(here, 'typed-permissions.typecheck.ts');
    const source = readFileSync(file, 'utf8');
    const expected = source.split('\n').filter((l) => l.includes('// @ts-expect-error')).length;
    const stripped = source.replace(/\/\/ @ts-expect-error.*$/gm, '');
    const config = ts.getParsedCommandLineOfConfigFile(
      join(here, '../../tsconfig.json'),
      {},
      { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
    )!;
    const host = ts.createCompilerHost(config.options);
    const read = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, stripped, lang) : read(name, lang, ...rest));
    const program = ts.createProgram([file], { ...config.options, noEmit: true }, host);
    const errors = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file);
    expect(expected).toBe(6);
    expect(errors).toHaveLength(expected);
  });
});
