import 'reflect-metadata';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ApiKeyService, AuthService, type AuthModuleOptions } from '../../src/index.js';
import { InMemoryApiKeyStore } from '../../src/api-keys/api-key.stores.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { cookieNamed } from '../support/cookies.js';
import { bearer } from '../support/http.js';
import { forgeAccessToken, nowSeconds } from '../support/tokens.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

/** Options the coverage check found that no spec set: each one here with what it changes. */
describe.each(ADAPTERS)('option effects, %s', (adapter) => {
  const apps: INestApplication[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  const boot = async (options: Partial<AuthModuleOptions>) => {
    const users = await MemoryUsers.create();
    const app = await bootApp({ jwt: { secret: SECRET }, users, ...options }, { adapter, controllers: ALL_CONTROLLERS });
    apps.push(app);
    return app;
  };

  test('jwt.maxTokenLength: a longer token is refused before any parsing; the default takes it', async () => {
    const padded = forgeAccessToken({ note: 'x'.repeat(700) });
    expect(padded.length).toBeGreaterThan(900);
    const strict = await boot({ jwt: { secret: SECRET, maxTokenLength: 900 } });
    const refused = await request(strict.getHttpServer()).get('/private').set(bearer(padded));
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('token_invalid');
    // A token under the bound still works there.
    expect((await request(strict.getHttpServer()).get('/private').set(bearer(forgeAccessToken()))).status).toBe(200);
    const roomy = await boot({ jwt: { secret: SECRET } });
    expect((await request(roomy.getHttpServer()).get('/private').set(bearer(padded))).status).toBe(200);
  });

  test('jwt.maxTokenLifetime: a token that lives longer is refused, and tokens cannot be made to live longer', async () => {
    const now = nowSeconds();
    const longLived = forgeAccessToken({ iat: now, exp: now + 7200 });
    const strict = await boot({ jwt: { secret: SECRET, maxTokenLifetime: 3600 } });
    const refused = await request(strict.getHttpServer()).get('/private').set(bearer(longLived));
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('token_invalid');
    await expect(strict.get(AuthService).createToken({ sub: '1' }, { expiresIn: 7200 })).rejects.toThrow('jwt.maxTokenLifetime');
    const roomy = await boot({ jwt: { secret: SECRET, maxTokenLifetime: 8000 } });
    expect((await request(roomy.getHttpServer()).get('/private').set(bearer(longLived))).status).toBe(200);
  });

  test('cookies.accessToken.name: the access cookie goes out, and is read, under that name', async () => {
    const app = await boot({ cookies: { enabled: true, accessToken: { name: '__Host-session-at' } } });
    const http = request(app.getHttpServer());
    const res = await http.post('/auth/login').set('Host', 'app.test').send({ username: 'alice', password: PASSWORDS.alice });
    expect(res.status).toBe(200);
    const cookie = cookieNamed(res, '__Host-session-at');
    expect(cookie).toBeDefined();
    expect(cookieNamed(res, '__Host-access')).toBeUndefined();
    const me = await http.get('/private').set('Host', 'app.test').set('Cookie', `__Host-session-at=${cookie!.value}`);
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe('1');
    // The default name is not read by this app.
    const other = await http.get('/private').set('Host', 'app.test').set('Cookie', `__Host-access=${cookie!.value}`);
    expect(other.status).toBe(401);
  });

  test('apiKeys.pepper: a stored key only verifies under the pepper it was made with', async () => {
    const store = new InMemoryApiKeyStore();
    const pepper = 'a-pepper-of-at-least-thirty-two-bytes-1';
    const first = await boot({ apiKeys: { enabled: true, pepper }, stores: { apiKeys: store } });
    const { key } = await first.get(ApiKeyService).create({ name: 'peppered', permissions: ['articles:read'] });
    expect((await request(first.getHttpServer()).get('/articles').set('x-api-key', key)).status).toBe(200);
    // Same store, another pepper (or none): the stored hash no longer matches.
    const other = await boot({ apiKeys: { enabled: true, pepper: 'another-pepper-of-at-least-thirty-two-b' }, stores: { apiKeys: store } });
    const refused = await request(other.getHttpServer()).get('/articles').set('x-api-key', key);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('api_key_invalid');
    const none = await boot({ apiKeys: { enabled: true }, stores: { apiKeys: store } });
    expect((await request(none.getHttpServer()).get('/articles').set('x-api-key', key)).status).toBe(401);
    const same = await boot({ apiKeys: { enabled: true, pepper }, stores: { apiKeys: store } });
    expect((await request(same.getHttpServer()).get('/articles').set('x-api-key', key)).status).toBe(200);
  });
});
