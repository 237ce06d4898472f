/**
 * A CommonJS app and an ESM app, each on Nest 11 and on Nest 12, built from the packed tarball: they compile with
 * their own tsc, boot with `node dist/main.js`, load every entry point, and guard a route (401 without a token,
 * login, 200 with the token). Then the entry points' types, checked under each moduleResolution an app may use.
 *
 * One install per Nest major, shared by both apps: the apps are subfolders whose package.json says only their
 * module system ("type"), so Node and TypeScript treat them as CommonJS or ESM and both resolve the parent's
 * node_modules.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  call,
  consumerTestsEnabled,
  describeIf,
  copyFixture,
  fixtures,
  installProject,
  removeTempDirs,
  run,
  startNode,
  tarball,
  tempDir,
} from './support/consumer.js';

const enabled = consumerTestsEnabled('consumer apps on Nest 11 and 12 (CommonJS and ESM, from the packed tarball)');

/** What an app on each major installs: the HTTP platform, the testing and swagger peers (to load every entry). */
const MAJORS = [
  // Nest 11 apps were made with TypeScript 5 (`nest new` of Nest 11 pins ^5.7); 5.8 is where `module: nodenext` lets
  // a CommonJS file import an ES module (as Node >= 20.19 can).
  { nest: 11, range: '~11.2.0', swagger: '^11.0.0', typescript: '~5.9.0' },
  // @nestjs/swagger 12 accepts TypeScript ~6.0 (not 7): what an app on Nest 12 with Swagger has.
  { nest: 12, range: '^12.0.0', swagger: '^12.0.0', typescript: '~6.0.0' },
];

const BASE_COMPILER_OPTIONS = {
  target: 'ES2022',
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  strict: true,
  strictPropertyInitialization: false,
  skipLibCheck: true,
  types: ['node'],
  outDir: 'dist',
  rootDir: 'src',
};

/**
 * The CommonJS apps: on Nest 11 the tsconfig `nest new` generates there (module nodenext in a package without
 * "type", so CommonJS output); on Nest 12 the classic `module: commonjs`. Both compile `import` to `require()`.
 */
const APPS = {
  cjs11: {
    type: 'commonjs',
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', resolvePackageJsonExports: true, esModuleInterop: true },
  },
  cjs12: { type: 'commonjs', compilerOptions: { module: 'commonjs', esModuleInterop: true } },
  esm: { type: 'module', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } },
} as const;

/**
 * moduleResolution settings the entry points' types must resolve under, beyond those the apps compile with (nodenext
 * from ESM and from CommonJS, and module commonjs): tsc --noEmit of fixtures/types/entries.ts, on the Nest 12 install.
 * Not here: `module: node16` in a CommonJS file, where TypeScript models a Node.js that cannot require() an ES module
 * and refuses any ESM-only package (TS1479; @nestjs/common 12 too): such an app uses nodenext (TS >= 5.8) or commonjs.
 */
const TYPE_CHECKS = [
  { name: 'node16 (ESM)', type: 'module', options: { module: 'node16', moduleResolution: 'node16' } },
  { name: 'bundler', type: 'module', options: { module: 'esnext', moduleResolution: 'bundler' } },
];

afterAll(() => removeTempDirs());

const installs = new Map<number, string>();

describeIf(enabled).each(MAJORS)('Nest $nest', ({ nest, range, swagger, typescript }) => {
  let root: string;

  beforeAll(() => {
    root = tempDir(`nest${nest}`);
    installs.set(nest, root);
    // @nestjs/websockets too: with it, the module checks the app's gateways at boot (Nest 11 fails an unguarded one).
    const nestPackages = ['common', 'core', 'platform-express', 'testing', 'websockets'].map((p) => `@nestjs/${p}@${range}`);
    installProject(root, {}, [
      tarball(),
      ...nestPackages,
      `@nestjs/swagger@${swagger}`,
      'reflect-metadata',
      'rxjs',
      'class-validator',
      'class-transformer',
      'supertest',
      `typescript@${typescript}`,
      '@types/node@^20',
    ]);
  }, 600_000);

  test.each(nest === 11 ? (['cjs11', 'esm'] as const) : (['cjs12', 'esm'] as const))(
    '%s app: compiles, boots, loads every entry point, guards a route',
    async (kind) => {
      const { type, compilerOptions } = APPS[kind];
      const dir = join(root, kind);
      mkdirSync(dir);
      copyFixture('app', dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `${kind}-app`, private: true, type }));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...BASE_COMPILER_OPTIONS, ...compilerOptions } }, null, 2));
      run(join(root, 'node_modules/.bin/tsc'), ['-p', '.'], dir);

      const app = await startNode(dir, 'dist/main.js', { JWT_SECRET: 'consumer-test-secret-of-at-least-32-bytes' });
      try {
        expect(app.output()).toContain(`module system ${type === 'module' ? 'esm' : 'commonjs'}`);
        expect(app.output()).toContain('entries {"swagger":"function","testing":"function","transports":"function"}');
        expect(app.output()).toContain('openapi {"schemes":["bearer"],"articles":["200","401","403","503"]}');
        // An app without a gateway boots on either major with @nestjs/websockets installed: the Nest 11 gateway check
        // (test/transports/gateway-guards.e2e.spec.ts) fails only a gateway that lacks the module's guard.
        expect(app.output()).not.toContain('runs no global guard on gateway handlers');
        const anonymous = await call(app.port, 'GET', '/articles');
        expect(anonymous).toMatchObject({ status: 401, body: { code: 'token_missing' } });
        const login = await call(app.port, 'POST', '/auth/login', { body: { username: 'ada', password: 'consumer-password' } });
        expect(login.status).toBe(200);
        const token = login.body.accessToken as string;
        expect(await call(app.port, 'GET', '/articles', { token })).toEqual({ status: 200, body: { reader: 'ada' } });
        // @node-rs/bcrypt is an optional peer, not installed here: a bcrypt hash is 503 (not a wrong password), and the
        // log says which package to install.
        const legacy = await call(app.port, 'POST', '/auth/login', { body: { username: 'legacy', password: 'consumer-password' } });
        expect(legacy).toMatchObject({ status: 503, body: { code: 'auth_unavailable' } });
        expect(app.output()).toContain('npm install @node-rs/bcrypt');
        expect(app.output()).not.toContain('$2b$04$');
      } finally {
        await app.stop();
      }
      // The testing kit: 401 without a user, 200 with the permission, 403 without it.
      expect(run(process.execPath, ['dist/kit-check.js'], dir).trim()).toBe('kit 401 200 403');
    },
    180_000,
  );
});

describeIf(enabled).each([12])('types on the Nest %i install', () => {
  test.each(TYPE_CHECKS)('types of every entry point resolve: $name', ({ name, type, options }) => {
    const root = installs.get(12)!;
    const dir = join(root, `types-${name.replace(/\W+/g, '-')}`);
    mkdirSync(join(dir, 'src'), { recursive: true });
    cpSync(join(fixtures, 'types/entries.ts'), join(dir, 'src/entries.ts'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...BASE_COMPILER_OPTIONS, noEmit: true, ...options } }));
    run(join(root, 'node_modules/.bin/tsc'), ['-p', '.'], dir);
  });
});
