import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { ResolvedAuthOptions } from '../auth.options.js';
import { AuditEmitter, LoggerAuditSink } from '../audit/audit.emitter.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { RevocationGate } from '../revocation/revocation-gate.js';
import { createMemoryStores, createTypeOrmStores, type AuthStores } from '../store/create-stores.js';
import { TokenCodec } from '../tokens/token-codec.js';
import { Argon2PasswordHasher } from '../users/argon2-password-hasher.js';
import type { PasswordHasher, UserProvider } from '../users/user.types.js';

/**
 * The assembled core the guard and the services share: the token codec (built
 * at boot, so a bad key fails the boot), the stores, the revocation gate, the
 * user provider and the audit emitter. Stores that live in the app's
 * DataSource are resolved in `onModuleInit`, when every provider of the app
 * exists, whatever the order of the app's imports.
 */
@Injectable()
export class AuthCore implements OnModuleInit, OnApplicationShutdown {
  readonly codec: TokenCodec;
  readonly audit: AuditEmitter;
  readonly hasher: PasswordHasher;
  /** The cookie transport (inert unless `cookies.enabled`). */
  readonly cookies: CookieJar;
  stores!: AuthStores;
  gate!: RevocationGate;
  private userProvider: UserProvider | undefined;
  private dummyHash: Promise<string> | undefined;
  private readonly logger = new Logger('AuthModule');

  constructor(
    @Inject(AUTH_OPTIONS) readonly options: ResolvedAuthOptions,
    private readonly moduleRef: ModuleRef,
  ) {
    this.codec = new TokenCodec(options.jwt);
    this.audit = new AuditEmitter(options.audit ?? new LoggerAuditSink());
    this.hasher = options.passwordHasher ?? new Argon2PasswordHasher();
    this.cookies = new CookieJar(options.cookies);
  }

  async onModuleInit(): Promise<void> {
    this.userProvider = await this.resolveUsers();
    this.stores = await this.resolveStores();
    const { jwt, revocation } = this.options;
    this.gate = new RevocationGate(this.stores, {
      consistency: revocation.consistency,
      syncIntervalMs: revocation.syncIntervalMs,
      accessTokenTtl: jwt.accessTokenTtl,
      maxTokenLifetime: jwt.maxTokenLifetime,
    });
    await this.gate.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.gate?.stop();
  }

  get users(): UserProvider {
    if (!this.userProvider) {
      throw new AuthConfigError('users', 'no UserProvider is configured: login and session refresh need one');
    }
    return this.userProvider;
  }

  /**
   * A hash of a random password, made with the configured hasher, so that a
   * login for an unknown user does the same work as one with a wrong password.
   */
  dummyPasswordHash(): Promise<string> {
    this.dummyHash ??= this.hasher.hash(randomBytes(24).toString('base64url'));
    return this.dummyHash;
  }

  private async resolveUsers(): Promise<UserProvider | undefined> {
    const users = this.options.users;
    if (users === undefined || typeof users !== 'function') return users;
    const cls = users as Type<UserProvider>;
    try {
      return this.moduleRef.get(cls, { strict: false });
    } catch {
      // Not registered by the app: build it here (its dependencies must be global then).
      return this.moduleRef.create(cls);
    }
  }

  private async resolveStores(): Promise<AuthStores> {
    const { store, revocation } = this.options;
    let stores: AuthStores;
    if (store.type === 'memory') {
      stores = createMemoryStores();
    } else {
      stores = createTypeOrmStores(await this.resolveDataSource(store.dataSource));
    }
    if (revocation.store) stores = { ...stores, revocations: revocation.store };
    return stores;
  }

  private async resolveDataSource(name: string): Promise<DataSource> {
    let token: unknown;
    try {
      const typeorm = await import('@nestjs/typeorm');
      token = typeorm.getDataSourceToken(name);
    } catch {
      throw new AuthConfigError('store', "'typeorm' needs @nestjs/typeorm installed and TypeOrmModule.forRoot() in the app");
    }
    let dataSource: DataSource | undefined;
    try {
      dataSource = this.moduleRef.get(token as Type<DataSource>, { strict: false });
    } catch {
      dataSource = undefined;
    }
    if (!dataSource) {
      throw new AuthConfigError(
        'store',
        `'typeorm' needs the app's DataSource "${name}" (TypeOrmModule.forRoot(${name === 'default' ? '' : `{ name: '${name}' }`}) with authEntities among its entities)`,
      );
    }
    this.logger.debug(`sessions and revocations in DataSource "${name}"`);
    return dataSource;
  }
}
