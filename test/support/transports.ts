import 'reflect-metadata';
import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AuthModule, AuthService, type AuthModuleOptions, type AuthUserRecord } from '../../src/index.js';
import { AuthTransportsModule, type AuthTransportsOptions } from '../../src/transports/index.js';
import type { Adapter } from './app.js';
import { withUsersHasher } from './users.js';

export interface TransportBootOptions extends ModuleMetadata {
  adapter?: Adapter;
  transports?: AuthTransportsOptions;
  logger?: LoggerService;
  /** Runs on the app before listen (adapters, microservices). */
  configure?: (app: INestApplication) => void | Promise<void>;
}

/**
 * Boots a real app with AuthModule (its own global guard) and
 * AuthTransportsModule, listening on an ephemeral port of 127.0.0.1. With `MemoryUsers` and no
 * `passwordHasher`, the app verifies with the hasher the users were made with.
 */
export async function bootTransportApp(
  options: AuthModuleOptions,
  extra: TransportBootOptions = {},
): Promise<{ app: INestApplication; url: string; auth: AuthService }> {
  const { adapter = 'express', imports = [], providers = [], transports, logger, configure, ...metadata } = extra;
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [...imports, AuthModule.forRoot(withUsersHasher(options)), AuthTransportsModule.forRoot(transports)],
    providers,
  }).compile();
  const app =
    adapter === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter()) : moduleRef.createNestApplication();
  app.useLogger(logger ?? false);
  await configure?.(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}`, auth: app.get(AuthService) };
}

/** An access token without a session for a test user (`createTokenForUser`). */
export function tokenFor(auth: AuthService, user: AuthUserRecord, expiresIn?: number): Promise<string> {
  return auth.createTokenForUser(user, expiresIn === undefined ? {} : { expiresIn });
}

/** Resolves when `emitter` fires `event` (first argument), rejects after `ms`. */
export function nextEvent<T = unknown>(emitter: { once(event: string, l: (...a: any[]) => void): unknown }, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

export { sleep } from './time.js';
