import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Newest modification time under a folder. */
function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

/** Every optional peer of package.json: an HTTP app on the memory store installs none of them. */
const OPTIONAL_PEERS = [
  'typeorm',
  '@nestjs/typeorm',
  'passport',
  '@nestjs/passport',
  'ioredis',
  'pg',
  '@nestjs/swagger',
  'supertest',
  '@nestjs/testing',
  '@nestjs/graphql',
  '@nestjs/apollo',
  '@apollo/server',
  'graphql',
  'graphql-ws',
  'ws',
  '@nestjs/websockets',
  '@nestjs/platform-socket.io',
  '@nestjs/platform-ws',
  '@nestjs/microservices',
  '@nats-io/transport-node',
  '@nestjs/cache-manager',
  'cache-manager',
  'keyv',
  '@keyv/redis',
];

// A loader hook that makes the optional peers unresolvable, as in an app that has not installed them.
const HIDE_PEERS = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
  const hidden = ${JSON.stringify(OPTIONAL_PEERS)};
  export async function resolve(specifier, context, next) {
    if (hidden.some((h) => specifier === h || specifier.startsWith(h + '/'))) {
      const err = new Error('Cannot find package ' + specifier); err.code = 'ERR_MODULE_NOT_FOUND'; throw err;
    }
    return next(specifier, context);
  }\`));
`;

describe('optional peers: the main entry needs none of them', () => {
  beforeAll(() => {
    // The built package is what an app loads; build it when the sources are newer.
    if (!existsSync(join(root, 'dist/index.js')) || newest(join(root, 'src')) > statSync(join(root, 'dist/index.js')).mtimeMs) {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
    }
  }, 120_000);

  test('an app boots on the main entry with the peers hidden, and LoginDto still validates', () => {
    const script = `
      import 'reflect-metadata';
      import { Controller, Get, Module } from '@nestjs/common';
      import { NestFactory } from '@nestjs/core';
      import { validate } from 'class-validator';
      import { plainToInstance } from 'class-transformer';
      const lib = await import(${JSON.stringify(join(root, 'dist/index.js'))});
      class Ctl { me() { return { ok: true }; } }
      Get('me')(Ctl.prototype, 'me', Object.getOwnPropertyDescriptor(Ctl.prototype, 'me'));
      Controller()(Ctl);
      class App {}
      Module({ imports: [lib.AuthModule.forRoot({ jwt: { secret: 'x'.repeat(40) } })], controllers: [Ctl] })(App);
      const app = await NestFactory.create(App, { logger: false });
      await app.init();
      const errors = await validate(plainToInstance(lib.LoginDto, { username: '', password: 'p' }));
      let swagger = 'loaded';
      try { await import('@nestjs/swagger'); } catch (e) { swagger = e.code; }
      let typeormPkg = 'loaded';
      try { await import('typeorm'); } catch (e) { typeormPkg = e.code; }
      const pair = await app.get(lib.AuthService).createToken({ sub: '1' });
      await app.close();
      console.log(JSON.stringify({
        booted: true, loginErrors: errors.map((e) => e.property), swagger, typeorm: typeormPkg,
        entities: lib.authEntities.length, typeormStore: typeof lib.TypeOrmRevocationStore, token: typeof pair,
      }));
    `;
    const run = spawnSync(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(HIDE_PEERS)}`, '--input-type=module', '-e', script],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({
      booted: true,
      loginErrors: ['username'],
      swagger: 'ERR_MODULE_NOT_FOUND',
      typeorm: 'ERR_MODULE_NOT_FOUND',
      entities: 8,
      typeormStore: 'function',
      token: 'string',
    });
  });

  test('the subpaths are declared, and the peers optional', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './testing', './swagger']));
    for (const peer of OPTIONAL_PEERS) {
      expect(pkg.peerDependenciesMeta[peer]).toEqual({ optional: true });
      expect(pkg.dependencies[peer]).toBeUndefined();
    }
  });
});
