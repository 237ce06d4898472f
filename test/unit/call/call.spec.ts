/**
 * src/call/: one table of transports, one mapper each, and the one error family
 * (the throttle's 429/503 are AuthErrors that every mapper answers).
 */
import 'reflect-metadata';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { ForbiddenException, HttpException, ServiceUnavailableException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { WsException } from '@nestjs/websockets';
import type { Carrier } from '../../../src/call/carrier.js';
import { clientOf, nodeSocketOf, peerAddressOf, rememberUpgradeRequest } from '../../../src/call/client.js';
import { AuthGraphqlError } from '../../../src/call/graphql.js';
import { loadTransportPeers } from '../../../src/call/peers.js';
import { carrierOf, failureFor, refusalFor, targetOf, transportFailureOf } from '../../../src/call/transports.js';
import { AuthError } from '../../../src/errors/auth-error.js';
import { refusalOf } from '../../../src/errors/bodies.js';
import { AuthBusyException, ClientGoneError, TooManyAttemptsException } from '../../../src/throttle/throttle-errors.js';

/** A response that records the headers set on it (Express's `setHeader`). */
function response() {
  const headers: Record<string, string> = {};
  return { headers, setHeader: (n: string, v: string) => void (headers[n.toLowerCase()] = v) };
}

const carrier = (type: string, res?: unknown): Carrier => ({ type, target: {}, headers: {}, response: res });

function httpContext(req: object, res: object): ExecutionContext {
  const args = [req, res];
  return { getType: () => 'http', getArgByIndex: (i: number) => args[i], getArgs: () => args } as unknown as ExecutionContext;
}

beforeAll(async () => {
  await loadTransportPeers();
});

describe('the transport table', () => {
  test('http: the request is the target and carries the headers; the response is kept', () => {
    const req = { headers: { authorization: 'Bearer x' } };
    const res = response();
    const found = carrierOf(httpContext(req, res));
    expect(found).toEqual({ type: 'http', target: req, headers: req.headers, response: res });
    expect(targetOf(httpContext(req, res))).toBe(req);
  });

  test('an unknown context type has no carrier and no target', () => {
    const ctx = { getType: () => 'kafka-custom', getArgByIndex: () => ({}) } as unknown as ExecutionContext;
    expect(carrierOf(ctx)).toBeUndefined();
    expect(targetOf(ctx)).toBeUndefined();
  });
});

describe('one mapper per transport', () => {
  test("http: Nest's own exceptions with the body, WWW-Authenticate for a guard's bearer refusal, Retry-After", () => {
    const res = response();
    const missing = failureFor(carrier('http', res), new AuthError('token_missing'), false) as HttpException;
    expect(missing).toBeInstanceOf(UnauthorizedException);
    expect(missing.getResponse()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Authentication is required', code: 'token_missing' });
    expect(res.headers['www-authenticate']).toBe('Bearer');

    const invalid = response();
    failureFor(carrier('http', invalid), new AuthError('token_invalid'), true);
    expect(invalid.headers['www-authenticate']).toBe('Bearer error="invalid_token"');

    expect(failureFor(carrier('http'), new AuthError('permission_denied'), false)).toBeInstanceOf(ForbiddenException);
    const busy = response();
    const shed = failureFor(carrier('http', busy), new AuthBusyException(2, 'queue_full')) as HttpException;
    expect(shed).toBeInstanceOf(ServiceUnavailableException);
    expect(shed.getResponse()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'Too many logins at once: try again shortly',
      code: 'auth_busy',
    });
    expect(busy.headers['retry-after']).toBe('2');
    // A refusal that is not about the call's credential has no challenge.
    expect(busy.headers['www-authenticate']).toBeUndefined();
  });

  test('graphql, ws, rpc: the documented shapes with the retry hint', () => {
    const err = new TooManyAttemptsException(1.2, 'per_account');
    const res = response();
    const gql = failureFor(carrier('graphql', res), err) as AuthGraphqlError;
    expect(gql).toBeInstanceOf(AuthGraphqlError);
    expect(gql.extensions).toEqual({ code: 'TOO_MANY_REQUESTS', authCode: 'too_many_attempts', retryAfter: 2 });
    expect(res.headers['retry-after']).toBe('2');

    const ws = failureFor(carrier('ws'), err) as WsException;
    expect(ws).toBeInstanceOf(WsException);
    expect(ws.getError()).toEqual({ status: 'error', code: 'too_many_attempts', message: 'Too many attempts: try again later', retryAfter: 2 });

    const rpc = failureFor(carrier('rpc'), new AuthError('token_revoked')) as RpcException;
    expect(rpc).toBeInstanceOf(RpcException);
    expect(rpc.getError()).toEqual({ code: 'token_revoked', message: 'The token has been revoked' });
  });

  test('a transport the module does not know gets the HTTP exception, with no header', () => {
    expect(failureFor(carrier('kafka-custom'), new AuthError('token_missing'), false)).toBeInstanceOf(UnauthorizedException);
  });
});

describe('one error family', () => {
  test("the throttle's refusals are AuthErrors with their retry hint", () => {
    for (const err of [new TooManyAttemptsException(3, 'per_ip'), new AuthBusyException(1, 'queue_full'), new ClientGoneError()]) {
      expect(err).toBeInstanceOf(AuthError);
      expect(refusalOf(err)).toBe(err);
    }
    expect(new ClientGoneError()).toMatchObject({ code: 'auth_busy', reason: 'client_gone', retryAfterSeconds: 1 });
  });

  test('without a carrier a refusal becomes the HTTP exception, which bears it for the transport that finds it', () => {
    const refusal = new TooManyAttemptsException(5, 'per_account');
    const thrown = refusalFor(undefined, refusal) as HttpException;
    expect(thrown).toBeInstanceOf(HttpException);
    expect(thrown.getStatus()).toBe(429);
    expect(thrown.getResponse()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Too many attempts: try again later',
      code: 'too_many_attempts',
    });
    // The refusal is not in the body, nor among the exception's own enumerable keys.
    expect(Object.keys(thrown)).not.toContain('refusal');
    expect(refusalOf(thrown)).toBe(refusal);
    const gql = transportFailureOf(carrier('graphql'), thrown) as AuthGraphqlError;
    expect(gql.extensions).toEqual({ code: 'TOO_MANY_REQUESTS', authCode: 'too_many_attempts', retryAfter: 5 });
  });

  test('anything that is not a refusal passes through every mapper as it is', () => {
    const bug = new TypeError('boom');
    expect(refusalOf(bug)).toBeUndefined();
    expect(refusalFor(undefined, bug)).toBe(bug);
    expect(refusalFor(carrier('ws'), bug)).toBe(bug);
    const own = new ForbiddenException('the app said no');
    expect(refusalFor(carrier('http'), own)).toBe(own);
  });
});

describe("the call's client", () => {
  test('one lookup of the Node socket: Express, Fastify, ws; the upgrade request of a ws client', () => {
    const socket = { remoteAddress: '10.0.0.1', once: () => undefined, removeListener: () => undefined };
    expect(nodeSocketOf({ socket })).toBe(socket);
    expect(nodeSocketOf({ raw: { socket } })).toBe(socket);
    expect(nodeSocketOf({ _socket: socket })).toBe(socket);
    expect(nodeSocketOf({})).toBeUndefined();
    const client = {};
    rememberUpgradeRequest(client, { headers: {}, socket: { remoteAddress: '10.0.0.2' } } as never);
    expect(peerAddressOf(client)).toBe('10.0.0.2');
  });

  test("clientOf: the framework's ip first, then the socket's; the user agent cut at 512 characters", () => {
    const target = { ip: '192.0.2.7', socket: { remoteAddress: '10.0.0.1' } };
    expect(clientOf({ type: 'http', target, headers: { 'user-agent': 'x'.repeat(600) }, response: undefined })).toEqual({
      ip: '192.0.2.7',
      userAgent: 'x'.repeat(512),
    });
    expect(clientOf({ type: 'http', target: { socket: { remoteAddress: '10.0.0.1' } }, headers: {}, response: undefined }).ip).toBe('10.0.0.1');
    expect(clientOf(undefined)).toEqual({});
  });
});
