import 'reflect-metadata';
import { ValidationPipe, type INestApplication, type LoggerService, type ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AuthModule, type AuthModuleForRootOptions as AuthModuleOptions } from '../../src/index.js';
import { withUsersHasher } from './users.js';

export type Adapter = 'express' | 'fastify';
export const ADAPTERS: Adapter[] = ['express', 'fastify'];

/** A secret of 32+ bytes for HS256 tests. */
export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

export interface BootOptions extends ModuleMetadata {
  adapter?: Adapter;
  /** Where Nest (and the default audit sink) log; silent by default. */
  logger?: LoggerService;
}

/**
 * Boots a real Nest app with AuthModule.forRoot(options) and the given controllers, listening on an ephemeral port.
 * With `MemoryUsers` and no `passwordHasher`, the app verifies with the hasher the users were made with.
 */
export async function bootApp(options: AuthModuleOptions, extra: BootOptions = {}): Promise<INestApplication> {
  const { adapter = 'express', imports = [], logger, ...metadata } = extra;
  const moduleRef = await Test.createTestingModule({ ...metadata, imports: [...imports, AuthModule.forRoot(withUsersHasher(options))] }).compile();
  const app =
    adapter === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter()) : moduleRef.createNestApplication();
  app.useLogger(logger ?? false);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/** Compiles and initialises a Nest module with these imports; the boot error, if any. */
export async function initError(imports: unknown[]): Promise<Error | undefined> {
  try {
    const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await app.close();
    return undefined;
  } catch (err) {
    return err as Error;
  }
}
