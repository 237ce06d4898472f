// A second instance of an app in a process of its own, on the SQLite file the spec's app uses: the way two
// instances share a file in production. argv: <lib dir (compiled sources)> <database file> <JWT secret>.
// Prints `PORT <n>` once listening; answers POST /auth/refresh and GET /private like the spec's app, and POST /race.
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Inject, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [libDir, database, secret] = process.argv.slice(2);
const lib = await import(pathToFileURL(join(libDir, 'index.js')).href);

const users = new Map([['1', { id: 1, username: 'alice', passwordHash: 'unused', permissions: ['articles:read'] }]]);
const userProvider = {
  async findByUsername(username) {
    return [...users.values()].find((u) => u.username === username) ?? null;
  },
  async findById(id) {
    return users.get(id) ?? null;
  },
};

class Routes {
  constructor(auth) {
    this.auth = auth;
  }
  refresh(body) {
    return this.auth.refresh(body.refreshToken);
  }
  private() {
    return { ok: true };
  }
  // `n` refreshes of one token started in one tick in this process, as a job fanning out would: their outcomes.
  async race(body) {
    const outcome = (p) =>
      p.then(
        () => 'ok',
        (err) => `${err?.getStatus?.()} ${err?.getResponse?.()?.code}`,
      );
    return Promise.all(Array.from({ length: body.n }, () => outcome(this.auth.refresh(body.refreshToken))));
  }
}
const method = (name) => [Routes.prototype, name, Object.getOwnPropertyDescriptor(Routes.prototype, name)];
lib.Public()(...method('refresh'));
HttpCode(200)(...method('refresh'));
Post('auth/refresh')(...method('refresh'));
Body()(Routes.prototype, 'refresh', 0);
Get('private')(...method('private'));
lib.Public()(...method('race'));
HttpCode(200)(...method('race'));
Post('race')(...method('race'));
Body()(Routes.prototype, 'race', 0);
Inject(lib.AuthService)(Routes, undefined, 0);
Controller()(Routes);

class App {}
Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'better-sqlite3', database, entities: lib.authEntities }),
    lib.AuthModule.forRoot({
      jwt: { secret },
      users: userProvider,
      store: 'typeorm',
      revocation: { syncIntervalMs: 50 },
      loginThrottle: { refreshPerIp: { limit: 1000, windowSeconds: 60 } },
    }),
  ],
  controllers: [Routes],
})(App);

const app = await NestFactory.create(App, { logger: ['error'] });
await app.listen(0, '127.0.0.1');
process.stdout.write(`PORT ${app.getHttpServer().address().port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
