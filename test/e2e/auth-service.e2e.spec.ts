import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { AuthService } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { MemoryUsers } from '../support/users.js';

describe('AuthService token issuing', () => {
  let app: INestApplication;
  let auth: AuthService;
  let users: MemoryUsers;

  beforeAll(async () => {
    users = await MemoryUsers.create();
    app = await bootApp({ jwt: { secret: SECRET, issuer: 'iss-a', audience: ['api', 'admin'] }, users }, { controllers: ALL_CONTROLLERS });
    auth = app.get(AuthService);
  });
  afterAll(() => app.close());

  test('createToken adds iat, exp, jti, iss, aud and the token works on a private route', async () => {
    const token = await auth.createToken({ sub: 'svc-1', permissions: ['articles:read'], custom: 'x' }, { expiresIn: 60 });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'svc-1', custom: 'x', iss: 'iss-a', aud: ['api', 'admin'] });
    expect((claims.exp as number) - (claims.iat as number)).toBe(60);
    expect(typeof claims.jti).toBe('string');
    const res = await request(app.getHttpServer()).get('/articles').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
  });

  test.each(['iat', 'exp', 'jti', 'iss', 'aud', 'typ', 'nbf'])('createToken refuses a payload that sets %s', async (claim) => {
    await expect(auth.createToken({ sub: 'x', [claim]: 1 })).rejects.toThrow(new RegExp(`"${claim}"`));
  });

  test('createToken needs a sub', async () => {
    await expect(auth.createToken({ permissions: [] })).rejects.toThrow(/sub/);
  });

  test.each(['sub', 'is_staff', 'is_superuser', 'permissions', 'iat', 'exp', 'jti', 'iss', 'aud', 'sid'])(
    'createTokenForUser refuses extraClaims that set %s',
    async (claim) => {
      await expect(auth.createTokenForUser(users.get('alice'), { extraClaims: { [claim]: true } })).rejects.toThrow(new RegExp(`"${claim}"`));
    },
  );

  test('createTokenForUser adds extra claims and the user claims', async () => {
    const token = await auth.createTokenForUser(users.get('bob'), { extraClaims: { tenant: 't1' }, expiresIn: 120 });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      sub: '2',
      username: 'bob',
      is_staff: true,
      is_superuser: false,
      permissions: ['articles:read', 'articles:write'],
      tenant: 't1',
    });
    expect(claims.sid).toBeUndefined();
  });

  test('verifyAccessToken returns the claims, and refuses with the codes', async () => {
    const token = await auth.createTokenForUser(users.get('alice'));
    await expect(auth.verifyAccessToken(token)).resolves.toMatchObject({ sub: '1', username: 'alice' });
    await expect(auth.verifyAccessToken(token + 'x')).rejects.toMatchObject({ code: 'token_invalid' });
    await auth.revokeToken(token);
    await expect(auth.verifyAccessToken(token)).rejects.toMatchObject({ code: 'token_revoked' });
  });

  test('a token with the wrong issuer or audience, or none, is refused', async () => {
    const other = await bootApp({ jwt: { secret: SECRET, issuer: 'iss-b' } });
    const noAud = await bootApp({ jwt: { secret: SECRET, issuer: 'iss-a' } });
    try {
      const wrongIss = await other.get(AuthService).createToken({ sub: '1' });
      const missingAud = await noAud.get(AuthService).createToken({ sub: '1' });
      const http = request(app.getHttpServer());
      for (const token of [wrongIss, missingAud]) {
        const res = await http.get('/private').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('token_invalid');
      }
    } finally {
      await other.close();
      await noAud.close();
    }
  });
});
