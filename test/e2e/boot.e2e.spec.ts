import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { Controller, Get, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { generateKeyPairSync } from 'node:crypto';
import { AuthModule, PermissionRequired, type AuthModuleOptions } from '../../src/index.js';
import { initError, SECRET } from '../support/app.js';

/** Compiles a Nest module with AuthModule and returns the boot error, if any. */
/** Boots AuthModule.forRoot(options) alone; the boot error, if any. */
const bootError = (options: unknown) => initError([AuthModule.forRoot(options as AuthModuleOptions)]);

describe('boot-time validation names the option', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  test.each<[string, unknown, RegExp]>([
    ['unknown top-level option', { jwt: { secret: SECRET }, sessionStore: 'x' }, /"sessionStore".*unknown option/],
    ['unknown jwt option', { jwt: { secret: SECRET, algorithm: 'HS256' } }, /"jwt\.algorithm".*unknown option/],
    ['no jwt at all', {}, /"jwt"/],
    ['no key for HS256', { jwt: {} }, /jwt\.secret/],
    ['no key for RS256', { jwt: { algorithms: ['RS256'] } }, /jwt\.(privateKey|publicKey)/],
    ['HMAC secret under 32 bytes', { jwt: { secret: 'too-short-secret' } }, /jwt\.secret/],
    ['none among the algorithms', { jwt: { secret: SECRET, algorithms: ['HS256', 'none'] } }, /jwt\.algorithms.*none/],
    ['None in another casing', { jwt: { secret: SECRET, algorithms: ['NONE'] } }, /jwt\.algorithms/],
    ['an unknown algorithm', { jwt: { secret: SECRET, algorithms: ['HS999'] } }, /jwt\.algorithms/],
    [
      'a PEM that does not parse',
      { jwt: { algorithms: ['RS256'], privateKey: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----' } },
      /jwt\.privateKey/,
    ],
    ['a non-positive ttl', { jwt: { secret: SECRET, accessTokenTtl: 0 } }, /jwt\.accessTokenTtl/],
    ['a bad store', { jwt: { secret: SECRET }, store: 'redis' }, /"store"/],
    ['a bad consistency', { jwt: { secret: SECRET }, revocation: { consistency: 'eventual' } }, /revocation\.consistency/],
    [
      'a custom store without revokedSince in cached mode',
      { jwt: { secret: SECRET }, revocation: { store: { revoke() {}, isRevoked() {}, purgeExpired() {} } } },
      /revocation\.store/,
    ],
    ['a bad publicRoutes.invalidToken', { jwt: { secret: SECRET }, publicRoutes: { invalidToken: 'maybe' } }, /publicRoutes\.invalidToken/],
    ['typeorm store without a DataSource', { jwt: { secret: SECRET }, store: 'typeorm' }, /"store".*DataSource/],
  ])('%s', async (_name, options, message) => {
    const err = await bootError(options);
    expect(err).toBeDefined();
    expect(err!.message).toMatch(message);
    expect(err!.message).not.toContain(SECRET);
  });

  test('a good configuration boots (HS256 and RS256)', async () => {
    expect(await bootError({ jwt: { secret: SECRET } })).toBeUndefined();
    expect(await bootError({ jwt: { algorithms: ['RS256'], privateKey: rsa.privateKey } })).toBeUndefined();
  });

  test('forRootAsync validates the options its factory returns, and takes ConfigService-style injection', async () => {
    const CONFIG = 'CONFIG';
    @Module({ providers: [{ provide: CONFIG, useValue: { secret: SECRET } }], exports: [CONFIG] })
    class ConfigModule {}
    const good = await Test.createTestingModule({
      imports: [
        AuthModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: (c: { secret: string }) => ({ jwt: { secret: c.secret } }),
        }),
      ],
    }).compile();
    await good.close();
    await expect(
      Test.createTestingModule({ imports: [AuthModule.forRootAsync({ useFactory: async () => ({ jwt: { secret: 'short' } }) })] }).compile(),
    ).rejects.toThrow(/jwt\.secret/);
  });
});

describe('decorators refuse to drop a check', () => {
  test('@PermissionRequired() with no permission throws when the controller is defined', () => {
    expect(() => {
      @Controller()
      class Broken {
        @PermissionRequired()
        @Get()
        route() {}
      }
      return Broken;
    }).toThrow(/at least one permission/);
  });

  test.each([[['']], [[42]], [[null]], [['ok', { mode: 'any' }]]])('@PermissionRequired(%j) throws', (args) => {
    expect(() => (PermissionRequired as (...a: unknown[]) => unknown)(...args)).toThrow(TypeError);
  });

  test('an empty array with mode any throws too, and an unknown mode throws', () => {
    expect(() => PermissionRequired([], { mode: 'any' })).toThrow(/at least one permission/);
    expect(() => PermissionRequired(['a'], { mode: 'some' as 'any' })).toThrow(/mode/);
  });
});
