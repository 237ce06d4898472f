import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import type { AuthContextData } from '../../../src/index.js';
import { LiveConnections } from '../../../src/transports/live-connections.js';
import { rpcCarrier } from '../../../src/call/rpc.js';
import { DEFAULT_CARRIER_OPTIONS, withToken } from '../../../src/call/carrier.js';
import { wsClientCarrier } from '../../../src/call/ws.js';

const jwtAuth = (claims: Record<string, unknown>): AuthContextData => ({
  userId: String(claims.sub),
  isStaff: false,
  isSuperuser: false,
  permissions: [],
  backend: 'jwt',
  claims,
});

describe('LiveConnections', () => {
  const now = 1_000_000_000_000;
  const claims = { jti: 'j1', sub: 'u1', sid: 's1', iat: now / 1000 - 10, exp: now / 1000 + 3600 };

  test('a sweep ends exactly the connections the gate now refuses, once', async () => {
    const revoked = new Set<string>();
    const live = new LiveConnections(
      (c) => (revoked.has(c.jti) ? 'token_revoked' : null),
      0,
      () => now,
    );
    const ended: string[] = [];
    live.add({ n: 1 }, jwtAuth(claims), (code) => ended.push(`a:${code}`));
    live.add({ n: 2 }, jwtAuth({ ...claims, jti: 'j2' }), (code) => ended.push(`b:${code}`));
    expect(await live.sweep()).toBe(0);
    revoked.add('j1');
    expect(await live.sweep()).toBe(1);
    expect(await live.sweep()).toBe(0);
    expect(ended).toEqual(['a:token_revoked']);
    expect(live.size).toBe(1);
    live.clear();
  });

  test('an unavailable store does not cut connections off; a failing check neither', async () => {
    let verdict: 'auth_unavailable' | 'throw' = 'auth_unavailable';
    const live = new LiveConnections(
      () => {
        if (verdict === 'throw') throw new Error('store down');
        return verdict as 'auth_unavailable';
      },
      0,
      () => now,
    );
    const ended: string[] = [];
    live.add({}, jwtAuth(claims), (code) => ended.push(code));
    await live.sweep();
    verdict = 'throw';
    await live.sweep();
    expect(ended).toEqual([]);
    live.clear();
  });

  test('expired tokens end at once; API-key principals are not tracked; remove stops tracking', async () => {
    const live = new LiveConnections(
      () => null,
      0,
      () => now,
    );
    const ended: string[] = [];
    live.add({}, jwtAuth({ ...claims, exp: now / 1000 - 1 }), (code) => ended.push(code));
    live.add({}, { ...jwtAuth(claims), backend: 'api_key', claims: undefined }, (code) => ended.push(code));
    const conn = {};
    live.add(conn, jwtAuth(claims), (code) => ended.push(code));
    live.remove(conn);
    expect(ended).toEqual(['token_expired']);
    expect(live.size).toBe(0);
  });
});

describe('carriers', () => {
  test('withToken: a token outside the headers becomes the header value; a different one makes it ambiguous', () => {
    expect(withToken({}, 'abc', DEFAULT_CARRIER_OPTIONS)).toEqual({ authorization: 'Bearer abc' });
    expect(withToken({ authorization: 'Bearer abc' }, 'abc', DEFAULT_CARRIER_OPTIONS)).toEqual({ authorization: 'Bearer abc' });
    expect(withToken({ authorization: 'Bearer abc' }, 'xyz', DEFAULT_CARRIER_OPTIONS).authorization).toEqual(['Bearer abc', 'Bearer xyz']);
    expect(withToken({}, 'raw', { tokenHeader: 'x-token', allowQueryToken: false })).toEqual({ 'x-token': 'raw' });
    expect(Array.isArray(withToken({}, 42, DEFAULT_CARRIER_OPTIONS).authorization)).toBe(true);
  });

  test('socket.io: the query token is read only with allowQueryToken', () => {
    const socket = { id: 's', handshake: { headers: {}, auth: {}, query: { token: 't' } }, emit: () => true, disconnect: () => undefined };
    expect(wsClientCarrier(socket)?.headers.authorization).toBeUndefined();
    expect(wsClientCarrier(socket, { ...DEFAULT_CARRIER_OPTIONS, allowQueryToken: true })?.headers.authorization).toBe('Bearer t');
  });

  test('rpc: NATS headers case-insensitively; an unknown RPC context has no carrier', () => {
    const rpc = (context: unknown, data: unknown = {}) =>
      ({ switchToRpc: () => ({ getContext: () => context, getData: () => data }) }) as unknown as ExecutionContext;
    const nats = { getSubject: () => 's', getHeaders: () => ({ keys: () => ['Authorization'], get: () => 'Bearer n' }) };
    expect(rpcCarrier(rpc(nats))?.headers).toEqual({ authorization: 'Bearer n' });
    expect(rpcCarrier(rpc({ getHeaders: () => ({ authorization: 'Bearer n' }) }))).toBeUndefined();
    expect(rpcCarrier(rpc({ getSocketRef: () => ({}), getPattern: () => 'p' }, { auth: { token: 'p' } }))?.headers).toEqual({
      authorization: 'Bearer p',
    });
  });
});
