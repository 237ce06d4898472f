import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Get, Req, UseGuards, type INestApplication } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import request from 'supertest';
import { AuthService, JwtAuthGuard } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { accessHeader, forgeToken } from '../support/tokens.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

@Controller('composed')
class ComposedController {
  @UseGuards(JwtAuthGuard)
  @Get('module-guard')
  withCodes(@Req() req: { user: unknown; auth: unknown }) {
    return { user: req.user, backend: (req.auth as { backend: string }).backend };
  }

  @UseGuards(AuthGuard('jwt'))
  @Get('passport-guard')
  plain(@Req() req: { user: unknown }) {
    return { user: req.user };
  }

  @Get('open')
  open() {
    return { open: true };
  }
}

describe('the jwt passport strategy, for apps that compose AuthGuard("jwt") themselves', () => {
  let app: INestApplication;
  let auth: AuthService;
  let users: MemoryUsers;
  const jwt = { secret: SECRET, issuer: 'https://issuer.test', audience: 'api' };

  beforeAll(async () => {
    users = await MemoryUsers.create();
    app = await bootApp({ jwt, users, globalGuard: false }, { controllers: [ComposedController] });
    auth = app.get(AuthService);
  });
  afterAll(() => app.close());

  test('globalGuard: false leaves undecorated routes open', async () => {
    expect((await request(app.getHttpServer()).get('/composed/open')).status).toBe(200);
  });

  test('a valid token passes both guards and fills the principal', async () => {
    const token = await auth.createTokenForUser(users.get('alice'));
    for (const path of ['/composed/module-guard', '/composed/passport-guard']) {
      const res = await request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: '1', username: 'alice' });
    }
  });

  test('issuer, audience and algorithm are effective through passport-jwt (a token from another issuer is refused)', async () => {
    // Foreign tokens are signed here by hand: booting a second app would re-register the process-wide passport 'jwt' strategy.
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: '1', jti: 'j1', iat: now, exp: now + 60, iss: jwt.issuer, aud: jwt.audience };
    const foreign = [
      forgeToken(accessHeader(), { ...base, iss: 'https://other.test' }),
      forgeToken(accessHeader(), { ...base, aud: 'other-api' }),
      forgeToken(accessHeader({ alg: 'HS512' }), base, SECRET + SECRET),
    ];
    const good = forgeToken(accessHeader(), base);
    expect((await request(app.getHttpServer()).get('/composed/module-guard').set('Authorization', `Bearer ${good}`)).status).toBe(200);
    for (const token of foreign) {
      const res = await request(app.getHttpServer()).get('/composed/module-guard').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('token_invalid');
      expect((await request(app.getHttpServer()).get('/composed/passport-guard').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    }
  });

  test('the strict verifier runs first: a refresh token, a revoked token and no token are refused with their codes', async () => {
    const http = request(app.getHttpServer());
    const missing = await http.get('/composed/module-guard');
    expect(missing.status).toBe(401);
    expect(missing.body.code).toBe('token_missing');

    const pair = await auth.login('alice', PASSWORDS.alice);
    const refresh = await http.get('/composed/module-guard').set('Authorization', `Bearer ${pair.refreshToken}`);
    expect(refresh.status).toBe(401);
    expect(refresh.body.code).toBe('token_invalid');

    const token = await auth.createTokenForUser(users.get('bob'));
    await auth.revokeToken(token);
    const revoked = await http.get('/composed/module-guard').set('Authorization', `Bearer ${token}`);
    expect(revoked.status).toBe(401);
    expect(revoked.body.code).toBe('token_revoked');
  });
});
