import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { BaseRpcContext, MessagePattern, Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { firstValueFrom, isObservable, of } from 'rxjs';
import { NestAuthGuard, Public } from '../../src/index.js';
import { SECRET } from '../support/app.js';
import { bootTransportApp, tokenFor } from '../support/transports.js';
import { MemoryUsers } from '../support/users.js';

/** A context this module has never heard of, even though it offers headers. */
class LoopbackContext extends BaseRpcContext<[Record<string, string>]> {
  getHeaders() {
    return this.args[0];
  }
}

/** A custom transport strategy: calls its handlers in-process with a LoopbackContext. */
class LoopbackTransport extends Server implements CustomTransportStrategy {
  listen(callback: () => void) {
    callback();
  }
  close() {}
  on() {}
  unwrap<T>(): T {
    return undefined as T;
  }
  async call(pattern: string, data: unknown, headers: Record<string, string>): Promise<unknown> {
    const handler = this.messageHandlers.get(pattern);
    if (!handler) throw new Error(`no handler for ${pattern}`);
    const result = await handler(data, new LoopbackContext([headers]));
    return firstValueFrom(isObservable(result) ? result : of(result));
  }
}

@Controller()
class LoopbackHandlers {
  @MessagePattern('loop.private')
  private() {
    return 'private';
  }

  @Public()
  @MessagePattern('loop.public')
  open() {
    return 'public';
  }
}

describe('contexts the guard does not know are denied', () => {
  let app: INestApplication;
  const transport = new LoopbackTransport();
  let token: string;

  beforeAll(async () => {
    const users = await MemoryUsers.create();
    let auth;
    ({ app, auth } = await bootTransportApp(
      { jwt: { secret: SECRET }, users },
      { controllers: [LoopbackHandlers], configure: (a) => void a.connectMicroservice({ strategy: transport }, { inheritAppConfig: true }) },
    ));
    await app.startAllMicroservices();
    token = await tokenFor(auth, users.get('root'));
  });
  afterAll(() => app?.close());

  test('a custom transport strategy: private and public handlers are refused with token_missing, even with a token', async () => {
    const headers = { authorization: `Bearer ${token}` };
    await expect(transport.call('loop.private', {}, headers)).rejects.toEqual({ code: 'token_missing', message: 'Authentication is required' });
    await expect(transport.call('loop.public', {}, headers)).rejects.toEqual({ code: 'token_missing', message: 'Authentication is required' });
    await expect(transport.call('loop.public', {}, {})).rejects.toMatchObject({ code: 'token_missing' });
  });

  test('a context type the module does not know (a custom ExecutionContext) is denied', () => {
    const guard = app.get(NestAuthGuard);
    const ctx = {
      getType: () => 'kafka-custom',
      getHandler: () => LoopbackHandlers.prototype.open,
      getClass: () => LoopbackHandlers,
      getArgs: () => [{ headers: { authorization: `Bearer ${token}` } }],
      getArgByIndex: (i: number) => [{ headers: { authorization: `Bearer ${token}` } }][i],
    } as unknown as ExecutionContext;
    expect(() => guard.canActivate(ctx)).toThrow(expect.objectContaining({ code: 'token_missing' }));
  });
});
